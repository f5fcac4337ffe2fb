# DeepDataProfiler profiles: held-out images -> influential neurons and synapses (zarr) ->
# profile graphs -> persistent homology + persistence images; Jaccard similarity.


rule profile_images:
    input:
        images=DATA,
        weights=MODEL_WEIGHTS,
        sidecar=MODEL_SIDECAR,
    output:
        directory(f"{PROFILES}/profiles.zarr"),
    params:
        split=config["profiles"]["split"],
        per_class=config["profiles"]["images_per_class"],
        threshold=config["profiles"]["threshold"],
        inplace_add=config["profiles"]["inplace_add"],
        batch_size=config["profiles"]["batch_size"],
        device=config["device"],
    priority: TWO_THREAD_PRIORITY
    threads: 2
    resources:
        mem_mb=6000,
        runtime="60m",
        gpu=gpu_request,
    log:
        f"{RESULTS}/logs/profiles/{{dataset}}/{{model}}/seed-{{seed}}/{{neuron}}/profiles.log",
    benchmark:
        f"{RESULTS}/benchmarks/profiles/{{dataset}}/{{model}}/seed-{{seed}}/{{neuron}}/profiles.tsv"
    conda:
        "../../envs/profiles.yaml"
    script:
        "../scripts/profile_images.py"


rule profile_topology:
    input:
        f"{PROFILES}/profiles.zarr",
    output:
        topology=f"{PROFILES}/topology.npz",
        plot=report(
            f"{PROFILES}/persistence-images.png",
            caption="../report/profile_images.rst",
            category="Profiles",
            subcategory="{dataset} {model}: persistence images",
            labels={"seed": "{seed}", "neurons": "{neuron}"},
        ),
    params:
        **PLAN.profile_settings(),
    threads: 1
    resources:
        mem_mb=4000,
        runtime="60m",
    log:
        f"{RESULTS}/logs/profiles/{{dataset}}/{{model}}/seed-{{seed}}/{{neuron}}/topology.log",
    benchmark:
        f"{RESULTS}/benchmarks/profiles/{{dataset}}/{{model}}/seed-{{seed}}/{{neuron}}/topology.tsv"
    conda:
        "../../envs/profiles.yaml"
    script:
        "../scripts/profile_topology.py"


rule profile_similarity:
    input:
        f"{PROFILES}/profiles.zarr",
    output:
        neurons=f"{PROFILES}/class-jaccard-neurons.tsv",
        synapses=f"{PROFILES}/class-jaccard-synapses.tsv",
        table=f"{PROFILES}/within-across.tsv",
        heatmap=report(
            f"{PROFILES}/class-jaccard.png",
            caption="../report/profile_jaccard.rst",
            category="Profiles",
            subcategory="{dataset} {model}: Jaccard similarity",
            labels={"seed": "{seed}", "neurons": "{neuron}", "figure": "class profiles"},
        ),
        pairs=report(
            f"{PROFILES}/within-across.png",
            caption="../report/profile_within_across.rst",
            category="Profiles",
            subcategory="{dataset} {model}: Jaccard similarity",
            labels={"seed": "{seed}", "neurons": "{neuron}", "figure": "within vs across"},
        ),
        sizes=report(
            f"{PROFILES}/sizes.png",
            caption="../report/profile_sizes.rst",
            category="Profiles",
            subcategory="{dataset} {model}: profile sizes",
            labels={"seed": "{seed}", "neurons": "{neuron}"},
        ),
    params:
        permutations=config["profiles"]["permutations"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime="30m",
    log:
        f"{RESULTS}/logs/profiles/{{dataset}}/{{model}}/seed-{{seed}}/{{neuron}}/similarity.log",
    benchmark:
        f"{RESULTS}/benchmarks/profiles/{{dataset}}/{{model}}/seed-{{seed}}/{{neuron}}/similarity.tsv"
    conda:
        "../../envs/profiles.yaml"
    script:
        "../scripts/profile_similarity.py"
