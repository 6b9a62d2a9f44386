from sirenpipe.stages import job_log, main_guard, score_clip

inputs = snakemake.input
with job_log(snakemake.log[0]):
    main_guard(
        score_clip,
        dataset=snakemake.wildcards.dataset,
        kind=snakemake.params.kind,
        clip_json=inputs.clip_meta,
        clip_wav=inputs.clip_wav,
        sirn=inputs.sirn,
        fit_history=inputs.history,
        decoded={v: inputs[v] for v in ("f0", "mean", "siamese", "blind") if hasattr(inputs, v)},
        ablation={**snakemake.params.ablation, "name": snakemake.wildcards.ablation},
        metrics=snakemake.params.metrics,
        out_parquet=snakemake.output[0],
    )
