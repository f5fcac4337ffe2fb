# Feature visualization (TopoAct §4): node-average and data-example activation images.


rule render_node_images:
    input:
        graph=f"{GRAPH}.zarr",
        weights=model_weights,
    output:
        images=directory(NODE_IMAGES),
        contact=report(
            f"{NODE_IMAGES}.contact.png",
            caption="../report/contact_sheet.rst",
            category="Feature visualization",
            subcategory=f"{{sampling}} {PARAMETERS}",
            labels={"layer": "{layer}", "seed": "{seed}", "model": "{model}"},
        ),
    params:
        module=layer_module_path,
        settings=render_settings,
        device=config["device"],
    # One thread: a grid has many such jobs, and they run side by side.
    threads: 1
    resources:
        mem_mb=4000,
        runtime="120m",
        gpu=gpu_request,
    benchmark:
        f"{RESULTS}/benchmarks/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}.tsv",
    log:
        f"{RESULTS}/logs/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/render_node_images.py"


rule select_data_examples:
    input:
        graph=f"{GRAPH}.zarr",
        points=ACTIVATIONS,
    output:
        EXAMPLES_SELECTION,
    params:
        top=config["featurevis"]["top_classes"],
        per_class=config["featurevis"]["examples_per_class"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime="20m",
    benchmark:
        f"{RESULTS}/benchmarks/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}.select.tsv",
    log:
        f"{RESULTS}/logs/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}.select.log",
    conda:
        "../../envs/mapper.yaml"
    script:
        "../scripts/select_data_examples.py"


# A graph's data examples, rendered for that graph alone: a sweep value that adds or
# changes a graph reruns only its images (docs/featurevis.md).
rule render_data_examples:
    input:
        points=ACTIVATIONS,
        images=dataset_images,
        weights=model_weights,
        selection=EXAMPLES_SELECTION,
    output:
        directory(GRAPH_EXAMPLES),
    params:
        module=layer_module_path,
        settings=render_settings,
        thumbnail_size=config["featurevis"]["thumbnail_size"],
        device=config["device"],
    # One thread: run side by side with the node images; the longest one-thread job, so
    # it starts as soon as it is ready (common.smk).
    priority: LONG_JOB_PRIORITY
    threads: 1
    resources:
        mem_mb=4000,
        runtime="240m",
        gpu=gpu_request,
    benchmark:
        f"{RESULTS}/benchmarks/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}.examples.tsv",
    log:
        f"{RESULTS}/logs/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}.examples.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/render_data_examples.py"


# featurevis.all_examples: every point of a layer's cloud (TopoAct's 300,000), once per
# layer; each graph's selection points into it.
rule render_all_examples:
    input:
        points=ACTIVATIONS,
        images=dataset_images,
        weights=model_weights,
    output:
        directory(ALL_EXAMPLES),
    params:
        module=layer_module_path,
        settings=render_settings,
        thumbnail_size=config["featurevis"]["thumbnail_size"],
        device=config["device"],
    priority: LONG_JOB_PRIORITY
    threads: 1
    resources:
        mem_mb=8000,
        runtime="24h",
        gpu=gpu_request,
    benchmark:
        f"{RESULTS}/benchmarks/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/examples/{{layer}}.tsv",
    log:
        f"{RESULTS}/logs/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/examples/{{layer}}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/render_data_examples.py"
