localrules:
    download_segmentation_weights,


rule download_segmentation_weights:
    output:
        DEEPLAB_WEIGHTS,
    benchmark:
        f"{RESULTS}/benchmarks/models/deeplabv3.download.tsv",
    log:
        f"{RESULTS}/logs/models/deeplabv3.download.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/download_segmentation_weights.py"


rule foreground_masks:
    input:
        images=DATA,
        weights=PLAN.segmentation_weights,
    output:
        masks=directory(MASKS),
        examples=report(
            f"{RESULTS}/masks/{{dataset}}-examples.png",
            caption="../report/masks.rst",
            category="Foreground masks",
        ),
    wildcard_constraints:
        dataset=choices(config["datasets"]),  # noisy variants use their base's masks
    params:
        method=lambda wildcards: config["datasets"][wildcards.dataset]["segmentation"],
        margin=config["activations"]["foreground"]["grabcut_margin"],
        iterations=config["activations"]["foreground"]["grabcut_iterations"],
        device=config["device"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime="60m",
        gpu=lambda wildcards: gpu_request() if PLAN.segmentation(wildcards) == "deeplabv3" else 0,
    benchmark:
        f"{RESULTS}/benchmarks/masks/{{dataset}}.tsv",
    log:
        f"{RESULTS}/logs/masks/{{dataset}}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/foreground_masks.py"


rule receptive_fields:
    input:
        images=DATA,
        weights=MODEL_WEIGHTS,
        sidecar=MODEL_SIDECAR,
    output:
        fields=RECEPTIVE_FIELDS,
        figure=report(
            RECEPTIVE_FIELDS.replace(".npz", ".png"),
            caption="../report/receptive_fields.rst",
            category="Foreground masks",
        ),
    wildcard_constraints:
        dataset=choices(config["datasets"]),
    params:
        module=PLAN.layer_module_path,
        images=config["activations"]["foreground"]["erf_images"],
        mass=config["activations"]["foreground"]["erf_mass"],
        device=config["device"],
    priority: TWO_THREAD_PRIORITY
    threads: 2
    resources:
        mem_mb=4000,
        runtime="60m",
        gpu=gpu_request,
    benchmark:
        f"{RESULTS}/benchmarks/receptive_fields/{{dataset}}/{{model}}/seed-{{seed}}/{{layer}}.tsv",
    log:
        f"{RESULTS}/logs/receptive_fields/{{dataset}}/{{model}}/seed-{{seed}}/{{layer}}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/receptive_fields.py"
