"""Download torchvision's ImageNet weights of an architecture (rule download_weights, local)."""

import sys

from topoact import models

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    models.save_imagenet_weights(snakemake.wildcards.architecture, snakemake.output.weights)
    print(f"saved {snakemake.output.weights}", file=log)
