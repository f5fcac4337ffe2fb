localrules:
    download_dataset,


rule download_dataset:
    output:
        touch(f"{RESULTS}/downloads/{{dataset}}.done"),
    params:
        options=dataset_options,
    log:
        f"{RESULTS}/logs/data/{{dataset}}.download.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/download_dataset.py"


rule dataset:
    input:
        download_marker,
    output:
        directory(f"{RESULTS}/data/{{dataset}}.zarr"),
    params:
        options=dataset_options,
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
