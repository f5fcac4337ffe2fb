"""Weight snapshots of one model: its trainings' conv weights at every snapshot, or its
given weights (rules train_weight_snapshots and given_weight_snapshot)."""


import torch

from topoact.devices import resolve_device
from topoact.jobs import job_log
from topoact.steps.snapshots import snapshots_for_model

with job_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    params = snakemake.params
    outputs = {path.rstrip("/").split("/")[-1].removesuffix(".zarr"): path
               for path in snakemake.output}
    snapshots_for_model(
        snakemake.input.get("images"), snakemake.input.get("weights"), outputs,
        architecture=params.architecture, layers=params.layers, seeds=params.seeds,
        snapshots=params.snapshots, training=params.training,
        device=resolve_device(params.device))
    print(f"{len(outputs)} snapshot store(s) of {len(params.seeds)} training(s)", file=log)
