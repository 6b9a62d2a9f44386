from sirenpipe.pipeline.io import job_log, main_guard
from sirenpipe.pipeline.rate_model import write_rate_model_stage

with job_log(snakemake.log[0]):
    main_guard(write_rate_model_stage, snakemake.input.scores, snakemake.output[0], snakemake.params.configfiles)
