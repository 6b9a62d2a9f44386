rule score:
    input:
        unpack(decoded_wavs),
        clip_wav="results/{dataset}/clips/{clip}.wav",
        clip_meta="results/{dataset}/clips/{clip}.json",
        sirn="results/{dataset}/{ablation}/bitstreams/{clip}.sirn",
        history=fit_of("json"),
    output:
        "results/{dataset}/{ablation}/scores/{clip}.parquet",
    log:
        "logs/{dataset}/{ablation}/score/{clip}.log",
    benchmark:
        "results/benchmarks/{dataset}/{ablation}/score/{clip}.tsv"
    group:
        "evaluate"
    conda:
        "../envs/sirenpipe.yaml"
    params:
        ablation=ablation_params("score"),
        kind=kind_of,
        metrics=config["metrics"],
    script:
        "../scripts/score.py"


rule baseline:
    input:
        clip_wav="results/{dataset}/clips/{clip}.wav",
        clip_meta="results/{dataset}/clips/{clip}.json",
    output:
        "results/{dataset}/baselines/{codec}/{clip}.parquet",
    log:
        "logs/{dataset}/baselines/{codec}/{clip}.log",
    group:
        "evaluate"
    conda:
        "../envs/sirenpipe.yaml"
    params:
        levels=lambda w: config["baselines"][w.codec],
        kind=kind_of,
        metrics=config["metrics"],
        version=VERSION,
    script:
        "../scripts/baseline.py"


rule collect:
    input:
        score_files,
    output:
        scores="results/tables/scores.parquet",
        summary="results/tables/summary.parquet",
        markdown="results/tables/summary.md",
    log:
        "logs/collect.log",
    conda:
        "../envs/sirenpipe.yaml"
    params:
        failed=FAILED,
        version=VERSION,
    script:
        "../scripts/collect.py"


rule figures:
    input:
        scores="results/tables/scores.parquet",
        summary="results/tables/summary.parquet",
        histories=fit_histories,
    output:
        bars=report(
            "results/figures/metric_bars.png",
            caption="../report/metric_bars.rst",
            category="Quality",
        ),
        loss=report(
            "results/figures/loss_curves.png",
            caption="../report/loss_curves.rst",
            category="Training",
        ),
        rate_quality=report(
            expand(
                "results/figures/rate_quality_{metric}.png", metric=config["metrics"]
            ),
            caption="../report/rate_quality.rst",
            category="Quality",
        ),
    log:
        "logs/figures.log",
    conda:
        "../envs/sirenpipe.yaml"
    params:
        history_labels=history_labels(),
        metrics=config["metrics"],
    script:
        "../scripts/figures.py"


rule spectrogram:
    input:
        unpack(spectrogram_inputs),
    output:
        report(
            "results/figures/spectrograms/{dataset}/{clip}.png",
            caption="../report/spectrogram.rst",
            category="Spectrograms",
            subcategory="{dataset}",
        ),
    log:
        "logs/spectrogram/{dataset}/{clip}.log",
    conda:
        "../envs/sirenpipe.yaml"
    script:
        "../scripts/spectrogram.py"


rule paper_comparison:
    input:
        scores="results/tables/scores.parquet",
        summary_md="results/tables/summary.md",
        clips=clip_metadata_files,
    output:
        parquet="results/tables/paper_comparison.parquet",
        markdown="results/tables/paper_comparison.md",
        results="results/RESULTS.md",
    log:
        "logs/paper_comparison.log",
    conda:
        "../envs/sirenpipe.yaml"
    params:
        run_config={k: v for k, v in config.items() if k != "paper_comparison"},
        version=VERSION,
    script:
        "../scripts/paper_comparison.py"


rule rate_distortion:
    input:
        scores="results/tables/scores.parquet",
    output:
        parquet="results/tables/bd_rate.parquet",
        markdown="results/tables/bd_rate.md",
        document="results/RATE_DISTORTION.md",
    log:
        "logs/rate_distortion.log",
    conda:
        "../envs/sirenpipe.yaml"
    params:
        settings=config.get("rate_distortion", {}),
        run_config={k: v for k, v in config.items() if k in ("clip", "datasets")},
        configfiles=[os.path.relpath(f) for f in workflow.overwrite_configfiles],
        version=VERSION,
    script:
        "../scripts/rate_distortion.py"


rule rate_model:
    input:
        scores="results/tables/scores.parquet",
    output:
        "results/tables/rate_model.json",
    log:
        "logs/rate_model.log",
    conda:
        "../envs/sirenpipe.yaml"
    params:
        configfiles=[os.path.relpath(f) for f in workflow.overwrite_configfiles],
        version=VERSION,
    script:
        "../scripts/rate_model.py"
