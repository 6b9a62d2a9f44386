from sirenpipe.pipeline.figures import spectrogram_figure
from sirenpipe.pipeline.io import job_log, main_guard

with job_log(snakemake.log[0]):
    main_guard(
        spectrogram_figure,
        snakemake.input.reference,
        {label: path for label, path in snakemake.input.items() if label != "reference"},
        snakemake.output[0],
        f"{snakemake.wildcards.dataset} / {snakemake.wildcards.clip}",
    )
