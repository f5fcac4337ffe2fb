"""Download torchvision's DeepLabV3-ResNet50 (VOC labels) weights.

Rule download_segmentation_weights, a local rule: it needs the network.
"""

import sys

from topoact import foreground

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    foreground.save_deeplab_weights(snakemake.output[0])
    print(f"saved {snakemake.output[0]}", file=log)
