"""Train the model of one (model, seed) on its dataset's train split (rule train_model)."""

import sys

import torch

from topoact import models

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    torch.set_num_threads(snakemake.threads)
    params = snakemake.params
    model, metadata = models.train_from_store(
        snakemake.input.images, params.architecture, seed=int(snakemake.wildcards.seed),
        epochs=params.epochs, batch_size=params.batch_size, learning_rate=params.learning_rate,
        weight_decay=params.weight_decay, device=models.resolve_device(params.device),
    )
    models.save_model(model, snakemake.output.weights, metadata)
    training = metadata["training"]
    print(f"held-out accuracy {training['heldout_accuracy']:.4f} after {training['epochs']} "
          f"epochs ({training['seconds']:.1f} s)", file=log)
