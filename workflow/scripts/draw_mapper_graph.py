"""Figure of one mapper graph (rule draw_mapper_graph)."""

import sys

from topoact import mapper, plots

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    w = snakemake.wildcards
    plots.draw_graph_store(
        snakemake.input[0], snakemake.output[0],
        title=f"{w.model} seed {w.seed} · {w.layer} · {w.sampling} · "
              f"{mapper.grid_name(w.overlap, w.epsilon)}",
    )
