from sirenpipe.pipeline.baseline import baseline_clip
from sirenpipe.pipeline.io import job_log, main_guard

with job_log(snakemake.log[0]):
    main_guard(
        baseline_clip,
        dataset=snakemake.wildcards.dataset,
        kind=snakemake.params.kind,
        clip_json=snakemake.input.clip_meta,
        clip_wav=snakemake.input.clip_wav,
        codec=snakemake.wildcards.codec,
        levels=snakemake.params.levels,
        metrics=snakemake.params.metrics,
        out_parquet=snakemake.output[0],
    )
