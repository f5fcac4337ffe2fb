"""The explorer page over every graph of the grid (rule build_explorer)."""

import sys

from topoact import explorer

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    sources = [
        explorer.GraphSource(**{**source, "examples": tuple(source["examples"])
                                if source["examples"] else None})
        for source in snakemake.params.sources
    ]
    manifest = explorer.build_explorer(sources, snakemake.output[0],
                                       layer_order=snakemake.params.layer_order)
    print(f"{len(manifest['graphs'])} graphs; open {snakemake.output[0]}/index.html", file=log)
