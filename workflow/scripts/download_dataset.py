"""Download a dataset into its root (rule download_dataset, a local rule)."""

import sys

from topoact import data

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    options = dict(snakemake.params.options)
    loader = options.pop("loader")
    folder = data.DOWNLOADERS[loader](**options)
    print(f"{loader} is in {folder}", file=log)
