# Stability of mapper graphs (Carrière & Oudot 2018): each graph's extended persistence and
# bootstrap significance; distances between a layer's graphs across the grid and between
# clean and noisy graphs.


rule graph_stability:
    input:
        graph=f"{GRAPH}.zarr",
        points=ACTIVATIONS,
    output:
        features=f"{STABILITY}.tsv",
        record=f"{STABILITY}.json",
        plot=report(
            f"{STABILITY}.png",
            caption="../report/stability.rst",
            category="Stability",
            subcategory=f"{{sampling}} {PARAMETERS}",
            labels={"layer": "{layer}", "dataset": "{dataset}", "seed": "{seed}",
                    "model": "{model}"},
        ),
    params:
        parameters=PLAN.graph_parameters,
        bootstrap=config["stability"]["bootstrap"],
        confidence=config["stability"]["confidence"],
        resample_seed=config["stability"]["seed"],
        tile=config["mapper"]["tile"],
        device=config["device"],
        layer_pass=lambda wildcards: STABILITY_PASS.format(**wildcards),
    # One thread: a grid has many such jobs, and they run side by side. On a small cloud
    # the first of a layer computes the layer's graphs (STABILITY_PASS) and the others
    # copy theirs (see topoact.steps.stability.shared_graph_stability).
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 8000 * attempt,
        runtime="120m",
        gpu=gpu_request,
    log:
        f"{RESULTS}/logs/stability/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/stability/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}.tsv"
    conda:
        "../../envs/stability.yaml"
    script:
        "../scripts/graph_stability.py"


rule grid_distances:
    input:
        unpack(PLAN.layer_graphs),
    output:
        table=f"{GRID_DISTANCES}.tsv",
        plot=report(
            f"{GRID_DISTANCES}.png",
            caption="../report/grid_distances.rst",
            category="Stability",
            subcategory="{sampling} graph distances across the grid",
            labels={"layer": "{layer}", "dataset": "{dataset}", "seed": "{seed}",
                    "model": "{model}"},
        ),
    threads: 1
    resources:
        mem_mb=4000,
        runtime="30m",
    log:
        f"{RESULTS}/logs/stability/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/grid-distances/{{layer}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/stability/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/grid-distances/{{layer}}.tsv"
    conda:
        "../../envs/stability.yaml"
    script:
        "../scripts/grid_distances.py"


rule stability_summary:
    input:
        unpack(PLAN.stability_summary_inputs),
    output:
        table=f"{STABILITY_RUN}/summary.tsv",
        distances=f"{STABILITY_RUN}/grid-distances.tsv",
        plot=report(
            f"{STABILITY_RUN}/significant-features.png",
            caption="../report/stability_summary.rst",
            category="Stability",
            subcategory="summary",
            labels={"dataset": "{dataset}", "model": "{model}", "seed": "{seed}"},
        ),
    params:
        layer_order=PLAN.layer_order,
    threads: 1
    resources:
        mem_mb=2000,
        runtime="10m",
    log:
        f"{RESULTS}/logs/stability/{{dataset}}/{{model}}/seed-{{seed}}/summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/stability/{{dataset}}/{{model}}/seed-{{seed}}/summary.tsv"
    conda:
        "../../envs/stability.yaml"
    script:
        "../scripts/stability_summary.py"


rule noise_distances:
    input:
        PLAN.noise_graph_inputs,
    output:
        table=f"{STABILITY_RUN}/noise-distances.tsv",
        plot=report(
            f"{STABILITY_RUN}/noise-distances.png",
            caption="../report/noise_distances.rst",
            category="Stability",
            subcategory="input noise",
            labels={"dataset": "{dataset}", "model": "{model}", "seed": "{seed}"},
        ),
    params:
        pairs=PLAN.noise_graph_pairs,
        layer_order=PLAN.layer_order,
    threads: 1
    resources:
        mem_mb=4000,
        runtime="30m",
    log:
        f"{RESULTS}/logs/stability/{{dataset}}/{{model}}/seed-{{seed}}/noise-distances.log",
    benchmark:
        f"{RESULTS}/benchmarks/stability/{{dataset}}/{{model}}/seed-{{seed}}/noise-distances.tsv"
    conda:
        "../../envs/stability.yaml"
    script:
        "../scripts/noise_distances.py"
