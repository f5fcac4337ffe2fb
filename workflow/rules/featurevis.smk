# Feature visualization (TopoAct §4): node-average and data-example activation images.


rule render_node_images:
    input:
        graph=f"{GRAPH}.zarr",
        weights=PLAN.model_weights,
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
        module=PLAN.layer_module_path,
        settings=PLAN.render_settings,
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
        unpack(PLAN.rendered_layer_graphs),
        points=ACTIVATIONS,
    output:
        f"{EXAMPLES}.json",
    params:
        top=config["featurevis"]["top_classes"],
        per_class=config["featurevis"]["examples_per_class"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime="20m",
    benchmark:
        f"{RESULTS}/benchmarks/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/examples/{{layer}}.select.tsv",
    log:
        f"{RESULTS}/logs/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/examples/{{layer}}.select.log",
    conda:
        "../../envs/mapper.yaml"
    script:
        "../scripts/select_data_examples.py"


rule render_data_examples:
    input:
        points=ACTIVATIONS,
        images=PLAN.dataset_images,
        weights=PLAN.model_weights,
        selection=PLAN.example_selection,
    output:
        directory(EXAMPLES),
    params:
        module=PLAN.layer_module_path,
        settings=PLAN.render_settings,
        thumbnail_size=config["featurevis"]["thumbnail_size"],
        device=config["device"],
    # One thread: one job per layer, run side by side with the node images; the longest
    # one-thread job, so it starts as soon as it is ready (common.smk).
    priority: LONG_JOB_PRIORITY
    threads: 1
    resources:
        mem_mb=4000,
        runtime="240m",
        gpu=gpu_request,
    benchmark:
        f"{RESULTS}/benchmarks/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/examples/{{layer}}.tsv",
    log:
        f"{RESULTS}/logs/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/examples/{{layer}}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/render_data_examples.py"
