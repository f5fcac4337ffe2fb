rule persistence_diagrams:
    input:
        points=ACTIVATIONS.replace("{sampling}", "top-l2"),
        images=DATA,
    output:
        diagrams=f"{HOMOLOGY}/seed-{{seed}}/diagrams/{{layer}}.npz",
        plot=report(
            f"{HOMOLOGY}/seed-{{seed}}/diagrams/{{layer}}.png",
            caption="../report/diagrams.rst",
            category="Persistent homology",
            subcategory="diagrams",
            labels={"layer": "{layer}", "seed": "{seed}", "model": "{model}"},
        ),
    params:
        images=config["homology"]["images"],
        batches=config["homology"]["batches"],
        split=config["homology"]["split"],
        maxdim=config["homology"]["maxdim"],
        batch_seed=config["homology"]["batch_seed"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime="60m",
    benchmark:
        f"{RESULTS}/benchmarks/homology/{{dataset}}/{{model}}/seed-{{seed}}/diagrams/{{layer}}.tsv",
    log:
        f"{RESULTS}/logs/homology/{{dataset}}/{{model}}/seed-{{seed}}/diagrams/{{layer}}.log",
    conda:
        "../../envs/homology.yaml"
    script:
        "../scripts/persistence_diagrams.py"


rule sw_distances:
    input:
        PLAN.model_diagrams,
    output:
        table=f"{HOMOLOGY}/seed-{{seed}}/sw-distances.tsv",
        heatmap=report(
            f"{HOMOLOGY}/seed-{{seed}}/sw-heatmap.png",
            caption="../report/sw_heatmap.rst",
            category="Persistent homology",
            subcategory="distances between layers",
            labels={"seed": "{seed}", "model": "{model}"},
        ),
    params:
        directions=config["homology"]["directions"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime="30m",
    benchmark:
        f"{RESULTS}/benchmarks/homology/{{dataset}}/{{model}}/seed-{{seed}}/sw-distances.tsv",
    log:
        f"{RESULTS}/logs/homology/{{dataset}}/{{model}}/seed-{{seed}}/sw-distances.log",
    conda:
        "../../envs/homology.yaml"
    script:
        "../scripts/sw_distances.py"


rule specificity:
    input:
        unpack(PLAN.diagrams_by_seed),
    output:
        table=f"{HOMOLOGY}/specificity.tsv",
        plot=report(
            f"{HOMOLOGY}/specificity.png",
            caption="../report/specificity.rst",
            category="Persistent homology",
            subcategory="specificity and sensitivity",
            labels={"test": "specificity", "model": "{model}"},
        ),
    params:
        seeds=config["homology"]["seeds"],
        directions=config["homology"]["directions"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime="60m",
    benchmark:
        f"{RESULTS}/benchmarks/homology/{{dataset}}/{{model}}/specificity.tsv",
    log:
        f"{RESULTS}/logs/homology/{{dataset}}/{{model}}/specificity.log",
    conda:
        "../../envs/homology.yaml"
    script:
        "../scripts/specificity.py"


rule sensitivity:
    input:
        unpack(PLAN.diagrams_by_seed),
        points=PLAN.reference_top_l2_stores,
    output:
        table=f"{HOMOLOGY}/sensitivity.tsv",
        plot=report(
            f"{HOMOLOGY}/sensitivity.png",
            caption="../report/sensitivity.rst",
            category="Persistent homology",
            subcategory="specificity and sensitivity",
            labels={"test": "sensitivity", "model": "{model}"},
        ),
    params:
        seeds=config["homology"]["seeds"],
        layers=PLAN.ordered_layers,
        maxdim=config["homology"]["maxdim"],
        directions=config["homology"]["directions"],
        max_components=config["homology"]["max_removed_components"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime="120m",
    benchmark:
        f"{RESULTS}/benchmarks/homology/{{dataset}}/{{model}}/sensitivity.tsv",
    log:
        f"{RESULTS}/logs/homology/{{dataset}}/{{model}}/sensitivity.log",
    conda:
        "../../envs/homology.yaml"
    script:
        "../scripts/sensitivity.py"
