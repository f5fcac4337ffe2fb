"""Train one (model, seed) on its dataset's train split, or take given weights (train_model)."""


import torch

from topoact import models
from topoact.devices import resolve_device
from topoact.jobs import job_log
from topoact.steps.models import pretrained_from_file, train_from_store

with job_log(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    params = snakemake.params
    if params.weights is not None:  # given weights (ImageNet or a checkpoint): no training
        model, metadata = pretrained_from_file(params.architecture, params.weights,
                                               snakemake.input.weights)
        models.save_model(model, snakemake.output.weights, metadata)
        print(f"{params.architecture} with weights {params.weights}", file=log)
    else:
        model, metadata = train_from_store(
            snakemake.input.images, params.architecture, seed=int(snakemake.wildcards.seed),
            epochs=params.epochs, batch_size=params.batch_size,
            learning_rate=params.learning_rate, weight_decay=params.weight_decay,
            device=resolve_device(params.device),
        )
        models.save_model(model, snakemake.output.weights, metadata)
        training = metadata["training"]
        print(f"held-out accuracy {training['heldout_accuracy']:.4f} after "
              f"{training['epochs']} epochs ({training['seconds']:.1f} s)", file=log)
