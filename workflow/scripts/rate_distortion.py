from sirenpipe.pipeline.io import job_log, main_guard
from sirenpipe.pipeline.rate_distortion import write_rate_distortion

with job_log(snakemake.log[0]):
    main_guard(
        write_rate_distortion,
        snakemake.input.scores,
        snakemake.params.settings,
        snakemake.output.parquet,
        snakemake.output.markdown,
        snakemake.output.document,
        run_config=snakemake.params.run_config,
        configfiles=snakemake.params.configfiles,
        version=snakemake.params.version,
    )
