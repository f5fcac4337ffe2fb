# The explorer: one static HTML page over every graph of the grid (TopoAct §5).


rule build_explorer:
    input:
        PLAN.explorer_inputs,
    output:
        directory(f"{RESULTS}/explorer"),
    params:
        sources=PLAN.explorer_sources,
        layer_order=PLAN.model_layer_orders,
        profile_sources=PLAN.profile_explorer_sources,
        settings=PLAN.explorer_settings,
    threads: 1
    resources:
        mem_mb=4000,
        runtime="60m",
    benchmark:
        f"{RESULTS}/benchmarks/explorer.tsv",
    log:
        f"{RESULTS}/logs/explorer.log",
    conda:
        "../../envs/mapper.yaml"
    script:
        "../scripts/build_explorer.py"
