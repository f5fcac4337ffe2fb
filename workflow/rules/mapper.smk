rule estimate_epsilon:
    input:
        points=ACTIVATIONS,
    output:
        record=f"{EPSILON}.json",
        plot=report(
            f"{EPSILON}.png",
            caption="../report/epsilon.rst",
            category="ε estimation",
            subcategory="{sampling}",
            labels={"layer": "{layer}", "seed": "{seed}", "model": "{model}"},
        ),
    params:
        k=config["epsilon"]["k"],
        max_points=config["epsilon"]["max_points"],
        large_clouds=config["epsilon"]["large_clouds"],
        exact_below=config["epsilon"]["exact_below"],
        device=config["device"],
    # Also before the layer's graph jobs, which are ready at the same time: with
    # mapper.jobs: shared, a graph job that runs first (a fixed-ε one) cannot build the
    # layer's pass.
    priority: TWO_THREAD_PRIORITY
    threads: PLAN.cloud_threads
    resources:
        mem_mb=8000,
        runtime="60m",
        gpu=gpu_request,
    benchmark:
        f"{RESULTS}/benchmarks/epsilon/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}.tsv",
    log:
        f"{RESULTS}/logs/epsilon/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}.log",
    conda:
        "../../envs/mapper.yaml"
    script:
        "../scripts/estimate_epsilon.py"


# One job per graph. With mapper.jobs: shared (the default), the first job of a layer
# to run builds every graph of the layer's grid in one engine pass into a cache
# (LAYER_PASS) and the layer's other jobs copy theirs from it (see
# topoact.steps.mapper.shared_grid_graph); with graph, each job runs the engine for its graph alone.
if config["mapper"]["jobs"] in ("shared", "graph") and config["mapper"]["shards"] == 1:

    rule build_mapper:
        input:
            points=ACTIVATIONS,
            epsilon=PLAN.graph_epsilon_input,
        output:
            graph=directory(f"{GRAPH}.zarr"),
            nodelink=f"{GRAPH}.json",
            kmapper=f"{GRAPH}.kmapper.json",
            purity=f"{GRAPH}.purity.tsv",
            figure=report(
                f"{GRAPH}.png",
                caption="../report/mapper_graph.rst",
                category="Mapper graphs",
                subcategory=f"{{sampling}} {PARAMETERS}",
                labels={"layer": "{layer}", "seed": "{seed}", "model": "{model}"},
            ),
        params:
            intervals=config["mapper"]["intervals"],
            overlap=lambda wildcards: float(wildcards.overlap) / 100,
            fixed_epsilon=PLAN.graph_fixed_epsilon,
            min_samples=config["mapper"]["min_samples"],
            cover=config["mapper"]["cover"],
            tile=config["mapper"]["tile"],
            device=config["device"],
            layer_pass=lambda wildcards: LAYER_PASS.format(**wildcards),
            layer_epsilon=lambda wildcards: EPSILON.format(**wildcards) + ".json",
        priority: GRAPH_PRIORITY
        threads: PLAN.graph_threads
        resources:
            mem_mb=lambda wildcards, attempt: 8000 * attempt,
            runtime="120m",
            gpu=gpu_request,
        benchmark:
            f"{RESULTS}/benchmarks/mapper/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}.tsv",
        log:
            f"{RESULTS}/logs/mapper/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}.log",
        conda:
            "../../envs/mapper.yaml"
        script:
            "../scripts/build_mapper.py"


else:

    # One job per (sampling, layer): every overlap × ε of the grid in one engine pass;
    # with mapper.shards > 1, the job that gathers the shards' nodes into those graphs.
    rule build_mapper_grid:
        input:
            points=ACTIVATIONS,
            epsilon=PLAN.layer_epsilon_input,
            plan=PLAN.shard_plan_input,
            shards=PLAN.shard_nodes_input,
        output:
            graphs=[directory(path) for path in PLAN.layer_grid_graphs(".zarr")],
            nodelinks=PLAN.layer_grid_graphs(".json"),
            kmappers=PLAN.layer_grid_graphs(".kmapper.json"),
            purities=PLAN.layer_grid_graphs(".purity.tsv"),
            figures=[
                report(
                    path,
                    caption="../report/mapper_graph.rst",
                    category="Mapper graphs",
                    subcategory="{sampling} grid",
                    labels={"layer": "{layer}", "seed": "{seed}", "model": "{model}"},
                )
                for path in PLAN.layer_grid_graphs(".png")
            ],
        params:
            grid=PLAN.grid(),
            intervals=config["mapper"]["intervals"],
            fixed_epsilon=config["mapper"]["fixed_epsilon"],
            min_samples=config["mapper"]["min_samples"],
            cover=config["mapper"]["cover"],
            tile=config["mapper"]["tile"],
            device=config["device"],
        threads: PLAN.grid_threads
        resources:
            mem_mb=lambda wildcards, attempt: 8000 * attempt,
            runtime="240m",
            gpu=gpu_request,
        benchmark:
            f"{RESULTS}/benchmarks/mapper/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/grid/{{layer}}.tsv",
        log:
            f"{RESULTS}/logs/mapper/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/grid/{{layer}}.log",
        conda:
            "../../envs/mapper.yaml"
        script:
            "../scripts/build_mapper_grid.py"


if config["mapper"]["shards"] > 1:

    # A cloud's grid split by cover intervals (topoact.shards): the plan, written once
    # per cloud, then one job per shard reading only its rows.
    rule plan_mapper_shards:
        input:
            points=ACTIVATIONS,
        output:
            plan=directory(f"{MAPPER_SHARDS}/plan.zarr"),
        params:
            intervals=config["mapper"]["intervals"],
            overlaps=[overlap / 100 for overlap in config["mapper"]["overlaps"]],
            cover=config["mapper"]["cover"],
            shards=config["mapper"]["shards"],
        threads: 1
        resources:
            mem_mb=lambda wildcards, attempt: 4000 * attempt,
            runtime="60m",
        benchmark:
            f"{RESULTS}/benchmarks/mapper-shards/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}/plan.tsv"
        log:
            f"{RESULTS}/logs/mapper-shards/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}/plan.log",
        conda:
            "../../envs/mapper.yaml"
        script:
            "../scripts/plan_mapper_shards.py"

    rule build_mapper_shard:
        input:
            points=ACTIVATIONS,
            plan=f"{MAPPER_SHARDS}/plan.zarr",
            epsilon=PLAN.layer_epsilon_input,
        output:
            nodes=directory(f"{MAPPER_SHARDS}/shard-{{shard}}.zarr"),
        params:
            grid=PLAN.grid(),
            fixed_epsilon=config["mapper"]["fixed_epsilon"],
            min_samples=config["mapper"]["min_samples"],
            cover=config["mapper"]["cover"],
            tile=config["mapper"]["tile"],
            device=config["device"],
        threads: PLAN.grid_threads
        resources:
            mem_mb=lambda wildcards, attempt: 8000 * attempt,
            runtime="240m",
            gpu=gpu_request,
        benchmark:
            f"{RESULTS}/benchmarks/mapper-shards/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}/shard-{{shard}}.tsv"
        log:
            f"{RESULTS}/logs/mapper-shards/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}/shard-{{shard}}.log",
        conda:
            "../../envs/mapper.yaml"
        script:
            "../scripts/build_mapper_shard.py"


rule purity_summary:
    input:
        PLAN.purity_tables,
    output:
        table=f"{PURITY}/purity.tsv",
        node_plot=report(
            f"{PURITY}/node-purity.png",
            caption="../report/purity.rst",
            category="Purity",
            labels={"measure": "node-wise", "model": "{model}", "seed": "{seed}"},
        ),
        class_plot=report(
            f"{PURITY}/class-purity.png",
            caption="../report/purity.rst",
            category="Purity",
            labels={"measure": "class-wise", "model": "{model}", "seed": "{seed}"},
        ),
    params:
        layer_order=PLAN.layer_order,
    threads: 1
    resources:
        mem_mb=2000,
        runtime="10m",
    benchmark:
        f"{RESULTS}/benchmarks/purity/{{dataset}}/{{model}}/seed-{{seed}}/summary.tsv",
    log:
        f"{RESULTS}/logs/purity/{{dataset}}/{{model}}/seed-{{seed}}/summary.log",
    conda:
        "../../envs/mapper.yaml"
    script:
        "../scripts/purity_summary.py"


rule noise_purity:
    input:
        tables=PLAN.purity_tables_by_noise,
    output:
        table=f"{PURITY}/noise-purity.tsv",
        plot=report(
            f"{PURITY}/noise-purity.png",
            caption="../report/noise_purity.rst",
            category="Input noise",
            labels={"model": "{model}", "seed": "{seed}"},
        ),
    params:
        layer_order=PLAN.layer_order,
        sigmas=PLAN.noise_sigmas,
    threads: 1
    resources:
        mem_mb=2000,
        runtime="10m",
    benchmark:
        f"{RESULTS}/benchmarks/purity/{{dataset}}/{{model}}/seed-{{seed}}/noise.tsv",
    log:
        f"{RESULTS}/logs/purity/{{dataset}}/{{model}}/seed-{{seed}}/noise.log",
    conda:
        "../../envs/mapper.yaml"
    script:
        "../scripts/noise_purity.py"
