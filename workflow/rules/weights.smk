# Weight-space topology (Gabrielsson & Carlsson 2019): trainings with weight snapshots ->
# normalised k×k filters -> dense cores X(k, p) -> barcodes + mapper graphs -> sweep and
# learning-dynamics figures.


rule train_weight_snapshots:
    input:
        images=PLAN.weight_training_images,
    output:
        [directory(path) for path in PLAN.trained_snapshot_stores()],
    params:
        architecture=PLAN.model_spec,
        layers=PLAN.weight_layer_paths,
        seeds=PLAN.weight_seeds(),
        snapshots=sorted(config["weights"]["snapshots"]),
        training=PLAN.weight_training,
        device=config["device"],
    wildcard_constraints:
        model=choices(PLAN.weight_models(trainable=True)) or NEVER,
    priority: TWO_THREAD_PRIORITY
    threads: 2
    resources:
        mem_mb=4000,
        runtime="120m",
        gpu=gpu_request,
    log:
        f"{RESULTS}/logs/weights/{{model}}/trainings.log",
    benchmark:
        f"{RESULTS}/benchmarks/weights/{{model}}/trainings.tsv"
    conda:
        "../../envs/weights.yaml"
    script:
        "../scripts/weight_snapshots.py"


rule given_weight_snapshot:
    input:
        weights=f"{RESULTS}/models/{{model}}/seed-0.pt",
    output:
        directory(SNAPSHOT_STORE.replace("{snapshot}", "final")),
    params:
        architecture=PLAN.model_spec,
        layers=PLAN.weight_layer_paths,
        seeds=[0],
        snapshots=[],
        training=None,
        device="cpu",
    wildcard_constraints:
        model=choices(PLAN.weight_models(trainable=False)) or NEVER,
    threads: 1
    resources:
        mem_mb=4000,
        runtime="20m",
    log:
        f"{RESULTS}/logs/weights/{{model}}/given.log",
    benchmark:
        f"{RESULTS}/benchmarks/weights/{{model}}/given.tsv"
    conda:
        "../../envs/weights.yaml"
    script:
        "../scripts/weight_snapshots.py"


rule weight_points:
    input:
        unpack(lambda wildcards: {name: ancient(path) for name, path
                              in PLAN.weight_point_inputs(wildcards).items()}),
    output:
        directory(WEIGHT_POINTS),
    params:
        source=PLAN.weight_source,
        slice=PLAN.weight_slice,
        contrast_drop=config["weights"]["contrast_drop"] / 100,
        contrast_norm=config["weights"]["contrast_norm"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime="20m",
    log:
        f"{RESULTS}/logs/weights/{{model}}/{{layer}}/{{snapshot}}/points.log",
    benchmark:
        f"{RESULTS}/benchmarks/weights/{{model}}/{{layer}}/{{snapshot}}/points.tsv"
    conda:
        "../../envs/weights.yaml"
    script:
        "../scripts/weight_points.py"


rule weight_core:
    input:
        points=WEIGHT_POINTS,
    output:
        dense=directory(f"{WEIGHT_CORE}dense.zarr"),
        barcode=f"{WEIGHT_CORE}barcode.npz",
        summary=f"{WEIGHT_CORE}summary.json",
        graph=directory(f"{WEIGHT_CORE}mapper.zarr"),
        nodelink=f"{WEIGHT_CORE}mapper.json",
        nodes=directory(f"{WEIGHT_CORE}nodes"),
        plot=report(
            f"{WEIGHT_CORE}mapper.png",
            caption="../report/weight_graph.rst",
            category="Weight space",
            subcategory="{model} {layer}: mapper graphs",
            labels={"snapshot": "{snapshot}", "k": "{k}", "keep": "{keep} %"},
        ),
    params:
        k=lambda wildcards: int(wildcards.k),
        keep=lambda wildcards: float(wildcards.keep) / 100,
        maxdim=config["weights"]["maxdim"],
        lens=config["weights"]["mapper"]["lens"],
        intervals=config["weights"]["mapper"]["intervals"],
        overlap=config["weights"]["mapper"]["overlap"] / 100,
        min_samples=config["weights"]["mapper"]["min_samples"],
        cover=config["weights"]["mapper"]["cover"],
        device=config["device"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime="30m",
    log:
        f"{RESULTS}/logs/weights/{{model}}/{{layer}}/{{snapshot}}/k-{{k}}-keep-{{keep}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/weights/{{model}}/{{layer}}/{{snapshot}}/k-{{k}}-keep-{{keep}}.tsv"
    conda:
        "../../envs/weights.yaml"
    script:
        "../scripts/weight_core.py"


rule weight_sweep:
    input:
        unpack(PLAN.weight_sweep_barcodes),
        summaries=PLAN.weight_summaries,
    output:
        table=f"{RESULTS}/weights/{{model}}/{{layer}}/h1-bars.tsv",
        plot=report(
            f"{RESULTS}/weights/{{model}}/{{layer}}/barcodes.png",
            caption="../report/weight_barcodes.rst",
            category="Weight space",
            subcategory="{model} {layer}: barcodes",
        ),
    threads: 1
    resources:
        mem_mb=2000,
        runtime="10m",
    log:
        f"{RESULTS}/logs/weights/{{model}}/{{layer}}/sweep.log",
    benchmark:
        f"{RESULTS}/benchmarks/weights/{{model}}/{{layer}}/sweep.tsv"
    conda:
        "../../envs/weights.yaml"
    script:
        "../scripts/weight_sweep.py"


rule weight_dynamics:
    input:
        unpack(PLAN.weight_dynamics_inputs),
    output:
        report(
            f"{RESULTS}/weights/{{model}}/{{layer}}/dynamics.png",
            caption="../report/weight_dynamics.rst",
            category="Weight space",
            subcategory="{model} {layer}: learning dynamics",
        ),
    params:
        snapshots=PLAN.weight_snapshot_labels,
    threads: 1
    resources:
        mem_mb=2000,
        runtime="10m",
    log:
        f"{RESULTS}/logs/weights/{{model}}/{{layer}}/dynamics.log",
    benchmark:
        f"{RESULTS}/benchmarks/weights/{{model}}/{{layer}}/dynamics.tsv"
    conda:
        "../../envs/weights.yaml"
    script:
        "../scripts/weight_dynamics.py"
