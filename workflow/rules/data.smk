rule dataset:
    output:
        directory(f"{RESULTS}/data/{{dataset}}.zarr"),
    params:
        options=lambda wildcards: config["datasets"][wildcards.dataset],
    threads: 1
    resources:
        mem_mb=4000,
        runtime="60m",
    log:
        f"{RESULTS}/logs/data/{{dataset}}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/dataset.py"
