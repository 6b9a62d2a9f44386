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


rule quantize:
    input:
        checkpoint="results/{dataset}/{ablation}/fit/{clip}.pt",
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
