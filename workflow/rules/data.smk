localrules:
    download_dataset,


rule download_dataset:
    output:
        touch(f"{RESULTS}/downloads/{{dataset}}.done"),
    params:
        options=PLAN.dataset_options,
    benchmark:
        f"{RESULTS}/benchmarks/data/{{dataset}}.download.tsv",
    log:
        f"{RESULTS}/logs/data/{{dataset}}.download.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/download_dataset.py"


rule dataset:
    input:
        PLAN.download_marker,
    output:
        directory(DATA),
    wildcard_constraints:
        dataset=choices(config["datasets"]),  # noisy variants read their base's images
    params:
        options=PLAN.dataset_options,
    threads: 1
    resources:
        mem_mb=4000,
        runtime="60m",
    benchmark:
        f"{RESULTS}/benchmarks/data/{{dataset}}.tsv",
    log:
        f"{RESULTS}/logs/data/{{dataset}}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/dataset.py"


rule noise_examples:
    input:
        DATA,
    output:
        report(
            f"{RESULTS}/noise/{{dataset}}-examples.png",
            caption="../report/noise_examples.rst",
            category="Input noise",
        ),
    params:
        sigmas=config["activations"]["noise_sigmas"],
        seed=config["activations"]["noise_seed"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime="10m",
    benchmark:
        f"{RESULTS}/benchmarks/data/{{dataset}}.noise-examples.tsv",
    log:
        f"{RESULTS}/logs/data/{{dataset}}.noise-examples.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/noise_examples.py"
