from sirenpipe.pipeline.io import job_log, main_guard
from sirenpipe.pipeline.score import score_clip

inputs, ablation = snakemake.input, snakemake.params.ablation
with job_log(snakemake.log[0]):
    main_guard(
        score_clip,
        dataset=snakemake.wildcards.dataset,
        kind=snakemake.params.kind,
        clip_json=inputs.clip_meta,
        clip_wav=inputs.clip_wav,
        sirn=inputs.sirn,
        fit_history=inputs.history,
        decoded={variant: inputs[variant] for variant in ablation["variants"]},
        ablation=ablation,
        metrics=snakemake.params.metrics,
        out_parquet=snakemake.output[0],
    )
