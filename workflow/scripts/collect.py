from sirenpipe.stages import collect_tables, job_log, main_guard

with job_log(snakemake.log[0]):
    main_guard(collect_tables, list(snakemake.input), snakemake.params.failed, snakemake.output.scores,
               snakemake.output.summary, snakemake.output.markdown)
