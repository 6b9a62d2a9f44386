from sirenpipe.pipeline.io import job_log, main_guard
from sirenpipe.pipeline.prepare import prepare, source_from_params

with job_log(snakemake.log[0]):
    main_guard(
        prepare,
        source_from_params(snakemake.params.source),
        snakemake.params.clip["sample_rate"],
        snakemake.params.clip["duration"],
        snakemake.output.wav,
        snakemake.output.meta,
    )
