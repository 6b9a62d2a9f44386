from sirenpipe.pipeline.fit import fit_clip
from sirenpipe.pipeline.io import job_log, main_guard

with job_log(snakemake.log[0]):
    main_guard(
        fit_clip,
        snakemake.input.wav,
        snakemake.params.ablation,
        snakemake.output.checkpoint,
        snakemake.output.history,
        threads=snakemake.threads,
    )
