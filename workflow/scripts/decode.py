from sirenpipe.pipeline.decode import decode_clip
from sirenpipe.pipeline.io import job_log, main_guard

with job_log(snakemake.log[0]):
    main_guard(
        decode_clip,
        snakemake.input[0],
        snakemake.wildcards.variant,
        snakemake.params.ablation["alpha"],
        snakemake.output[0],
    )
