localrules:
    download_weights,


rule download_weights:
    output:
        weights="resources/weights/{architecture}-imagenet.pt",
        sidecar="resources/weights/{architecture}-imagenet.json",
    benchmark:
        f"{RESULTS}/benchmarks/models/{{architecture}}-imagenet.download.tsv",
    log:
        f"{RESULTS}/logs/models/{{architecture}}-imagenet.download.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/download_weights.py"


rule train_model:
    input:
        unpack(PLAN.model_inputs),
    output:
        weights=MODEL_WEIGHTS,
        sidecar=MODEL_SIDECAR,
    params:
        architecture=PLAN.model_spec,
        weights=lambda wildcards: config["models"][wildcards.model]["weights"],
        epochs=lambda wildcards: config["models"][wildcards.model]["epochs"],
        batch_size=lambda wildcards: config["models"][wildcards.model]["batch_size"],
        learning_rate=lambda wildcards: config["models"][wildcards.model]["learning_rate"],
        weight_decay=lambda wildcards: config["models"][wildcards.model]["weight_decay"],
        device=config["device"],
    priority: TWO_THREAD_PRIORITY
    threads: 2
    resources:
        mem_mb=4000,
        runtime="60m",
        gpu=gpu_request,
    benchmark:
        f"{RESULTS}/benchmarks/models/{{model}}/seed-{{seed}}.tsv",
    log:
        f"{RESULTS}/logs/models/{{model}}/seed-{{seed}}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/train_model.py"
