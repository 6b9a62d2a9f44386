from sirenpipe.pipeline.figures import summary_figures
from sirenpipe.pipeline.io import job_log, main_guard

with job_log(snakemake.log[0]):
    main_guard(
        summary_figures,
        snakemake.input.scores,
        snakemake.input.summary,
        list(snakemake.input.histories),
        snakemake.params.history_labels,
        snakemake.params.metrics,
        snakemake.output.bars,
        snakemake.output.loss,
        list(snakemake.output.rate_quality),
    )
