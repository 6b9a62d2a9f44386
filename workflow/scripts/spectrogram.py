from sirenpipe.stages import job_log, main_guard, spectrogram_figure

with job_log(snakemake.log[0]):
    files = dict(snakemake.input.items())
    main_guard(spectrogram_figure, files.pop("reference"), files, snakemake.output[0],
               f"{snakemake.wildcards.dataset} / {snakemake.wildcards.clip}")
