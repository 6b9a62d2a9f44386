from sirenpipe.pipeline.fit import split_fit
from sirenpipe.pipeline.io import job_log, main_guard

with job_log(snakemake.log[0]):
    main_guard(
        split_fit,
        snakemake.input[0],
        snakemake.wildcards.clip,
        snakemake.output.checkpoint,
        snakemake.output.history,
    )
