from sirenpipe.datasets import ClipSource
from sirenpipe.stages import job_log, main_guard, prepare

with job_log(snakemake.log[0]):
    source = ClipSource(**{**snakemake.params.source, "paths": tuple(snakemake.params.source["paths"])})
    main_guard(prepare, source, snakemake.params.clip["sample_rate"], snakemake.params.clip["duration"],
               snakemake.output.wav, snakemake.output.meta)
