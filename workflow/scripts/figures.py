from sirenpipe.stages import job_log, main_guard, summary_figures

with job_log(snakemake.log[0]):
    main_guard(summary_figures, snakemake.input.scores, snakemake.input.summary, list(snakemake.input.histories),
               snakemake.output.bars, snakemake.output.loss, list(snakemake.output.rate_quality))
