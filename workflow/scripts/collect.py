from sirenpipe.pipeline.collect import collect_tables
from sirenpipe.pipeline.io import job_log, main_guard

with job_log(snakemake.log[0]):
    main_guard(
        collect_tables,
        list(snakemake.input),
        snakemake.params.failed,
        snakemake.output.scores,
        snakemake.output.summary,
        snakemake.output.markdown,
    )
