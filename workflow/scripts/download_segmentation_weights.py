"""Download torchvision's DeepLabV3-ResNet50 (VOC labels) weights.

Rule download_segmentation_weights, a local rule: it needs the network.
"""


from topoact.jobs import job_log
from topoact.steps.foreground import save_deeplab_weights

with job_log(snakemake.log[0]) as log:
    save_deeplab_weights(snakemake.output[0])
    print(f"saved {snakemake.output[0]}", file=log)
