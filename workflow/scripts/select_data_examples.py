"""Data examples of every node of one layer's graphs (rule select_data_examples)."""

import sys

from topoact import featurevis

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    graphs = {name: path for name, path in snakemake.input.items() if name != "points"}
    selection = featurevis.select_layer_examples(
        graphs, snakemake.input.points, snakemake.output[0], top=snakemake.params.top,
        per_class=snakemake.params.per_class,
    )
    print(f"{len(selection['points'])} points shown by {len(graphs)} graphs", file=log)
