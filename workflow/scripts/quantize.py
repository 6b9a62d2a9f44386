from sirenpipe.pipeline.io import job_log, main_guard
from sirenpipe.pipeline.quantize import quantize_clip

with job_log(snakemake.log[0]):
    main_guard(quantize_clip, snakemake.input.checkpoint, snakemake.input.wav, snakemake.params.ablation,
               snakemake.output[0])
