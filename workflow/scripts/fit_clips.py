from sirenpipe.pipeline.fit import fit_clips
from sirenpipe.pipeline.io import job_log, main_guard

with job_log(snakemake.log[0]):
    main_guard(
        fit_clips,
        list(snakemake.input),
        snakemake.params.ablation,
        snakemake.output[0],
        threads=snakemake.threads,
    )
