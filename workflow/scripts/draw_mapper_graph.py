"""Figure of one mapper graph (rule draw_mapper_graph)."""


from topoact import plots
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    w = snakemake.wildcards
    plots.draw_graph_store(
        snakemake.input[0], snakemake.output[0],
        title=f"{w.model} seed {w.seed} · {w.layer} · {w.sampling} · "
              f"{snakemake.params.parameters}",
    )
