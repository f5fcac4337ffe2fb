rule train_model:
    input:
        images=training_images,
    output:
        weights=f"{RESULTS}/models/{{model}}/seed-{{seed}}.pt",
        sidecar=f"{RESULTS}/models/{{model}}/seed-{{seed}}.json",
    params:
        architecture=lambda wildcards: model_config(wildcards)["architecture"],
        epochs=lambda wildcards: model_config(wildcards)["epochs"],
        batch_size=lambda wildcards: model_config(wildcards)["batch_size"],
        learning_rate=lambda wildcards: model_config(wildcards)["learning_rate"],
        weight_decay=lambda wildcards: model_config(wildcards)["weight_decay"],
        device=config["device"],
    threads: 2
    resources:
        mem_mb=4000,
        runtime="60m",
        gpu=gpu_request,
    log:
        f"{RESULTS}/logs/models/{{model}}/seed-{{seed}}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/train_model.py"
