rule extract_activations:
    input:
        images=PLAN.dataset_images,
        weights=MODEL_WEIGHTS,
        sidecar=MODEL_SIDECAR,
        foreground=PLAN.foreground_inputs,
    output:
        directory(ACTIVATIONS),
    params:
        module=PLAN.layer_module_path,
        split=config["activations"]["split"],
        border=config["activations"]["border"],
        batch_size=config["activations"]["batch_size"],
        chunk_mb=config["activations"]["chunk_mb"],
        noise_sigma=lambda wildcards: noise_of(wildcards.dataset),
        noise_seed=config["activations"]["noise_seed"],
        skip_tokens=config["activations"]["skip_tokens"],
        device=config["device"],
    priority: TWO_THREAD_PRIORITY
    threads: PLAN.cloud_threads
    resources:
        mem_mb=4000,
        runtime="60m",
        gpu=gpu_request,
    benchmark:
        f"{RESULTS}/benchmarks/activations/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}.tsv",
    log:
        f"{RESULTS}/logs/activations/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/extract_activations.py"
