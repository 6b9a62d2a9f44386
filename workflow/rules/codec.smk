rule fit:
    input:
        wav="results/{dataset}/clips/{clip}.wav",
    output:
        checkpoint="results/{dataset}/{ablation}/fit/{clip}.pt",
        history="results/{dataset}/{ablation}/fit/{clip}.json",
    log:
        "logs/{dataset}/{ablation}/fit/{clip}.log",
    benchmark:
        "results/benchmarks/{dataset}/{ablation}/fit/{clip}.tsv"
    wildcard_constraints:
        ablation=ablations_matching(batched=False),
    group:
        "fit"
    conda:
        "../envs/sirenpipe.yaml"
    threads: 2
    resources:
        gpu=needs_gpu,
    params:
        ablation=ablation_params("fit"),
    script:
        "../scripts/fit.py"


rule fit_clips:
    input:
        batch_wavs,
    output:
        "results/{dataset}/{ablation}/fit-batches/{batch}.pt",
    log:
        "logs/{dataset}/{ablation}/fit-batches/{batch}.log",
    benchmark:
        "results/benchmarks/{dataset}/{ablation}/fit-batches/{batch}.tsv"
    wildcard_constraints:
        batch="[0-9]+",
    group:
        "fit"
    conda:
        "../envs/sirenpipe.yaml"
    threads: 2
    resources:
        gpu=needs_gpu,
    params:
        ablation=ablation_params("fit"),
        clips=batch_members,
    script:
        "../scripts/fit_clips.py"


rule split_fit:
    input:
        batch_of_clip,
    output:
        checkpoint="results/{dataset}/{ablation}/fit/{clip}.pt",
        history="results/{dataset}/{ablation}/fit/{clip}.json",
    log:
        "logs/{dataset}/{ablation}/fit/{clip}.log",
    wildcard_constraints:
        ablation=ablations_matching(batched=True),
    group:
        "fit"
    conda:
        "../envs/sirenpipe.yaml"
    script:
        "../scripts/split_fit.py"


rule quantize:
    input:
        checkpoint=fit_of("pt"),
        wav="results/{dataset}/clips/{clip}.wav",
    output:
        "results/{dataset}/{ablation}/bitstreams/{clip}.sirn",
    log:
        "logs/{dataset}/{ablation}/quantize/{clip}.log",
    group:
        "evaluate"
    conda:
        "../envs/sirenpipe.yaml"
    params:
        ablation=ablation_params("quantize"),
    script:
        "../scripts/quantize.py"


rule decode:
    input:
        "results/{dataset}/{ablation}/bitstreams/{clip}.sirn",
    output:
        "results/{dataset}/{ablation}/decoded/{variant}/{clip}.wav",
    log:
        "logs/{dataset}/{ablation}/decode/{variant}/{clip}.log",
    group:
        "evaluate"
    conda:
        "../envs/sirenpipe.yaml"
    params:
        ablation=ablation_params("decode"),
    script:
        "../scripts/decode.py"
