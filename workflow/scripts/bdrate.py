from sirenpipe.evaluation.rd_report import write_rate_distortion
from sirenpipe.pipeline.io import job_log, main_guard

# .get: a rule without the document (or its params) still gets its BD-rate tables.
with job_log(snakemake.log[0]):
    main_guard(
        write_rate_distortion,
        snakemake.input.scores,
        snakemake.params.settings,
        snakemake.output.parquet,
        snakemake.output.markdown,
        snakemake.output.get("document"),
        run_config=snakemake.params.get("run_config"),
        configfiles=snakemake.params.get("configfiles", []),
        version=snakemake.params.version,
    )
