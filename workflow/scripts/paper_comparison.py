from sirenpipe.pipeline.io import job_log, main_guard
from sirenpipe.pipeline.paper import paper_comparison

with job_log(snakemake.log[0]):
    main_guard(
        paper_comparison,
        snakemake.input.scores,
        snakemake.input.summary_md,
        snakemake.params.run_config,
        list(snakemake.input.clips),
        snakemake.output.parquet,
        snakemake.output.markdown,
        snakemake.output.results,
    )
