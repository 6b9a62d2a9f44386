rule prepare:
    input:
        source_paths=lambda w: source_of(w).paths,
    output:
        wav="results/{dataset}/clips/{clip}.wav",
        meta="results/{dataset}/clips/{clip}.json",
    log:
        "logs/{dataset}/prepare/{clip}.log",
    group:
        "prepare"
    conda:
        "../envs/sirenpipe.yaml"
    params:
        source=lambda w: dataclasses.asdict(source_of(w)),
        clip=config["clip"],
        version=VERSION,
    script:
        "../scripts/prepare.py"
