"""Download torchvision's ImageNet weights of an architecture (rule download_weights, local)."""


from topoact import models
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    models.save_imagenet_weights(snakemake.wildcards.architecture, snakemake.output.weights)
    print(f"saved {snakemake.output.weights}", file=log)
