"""Activation images and input thumbnails of a layer's data examples (render_data_examples)."""

import os
import sys

if snakemake.params.device == "cpu":
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # lucent renders on any GPU it can see

import torch  # noqa: E402

from topoact import featurevis  # noqa: E402

with open(snakemake.log[0], "w") as log:
    sys.stderr = log
    torch.set_num_threads(snakemake.threads)
    params = snakemake.params
    index = featurevis.render_examples(
        snakemake.input.points, snakemake.input.images, snakemake.input.weights, params.module,
        snakemake.output[0], featurevis.RenderSettings(**params.settings),
        selection_path=snakemake.input.selection or None,
        thumbnail_size=params.thumbnail_size, device=params.device,
    )
    print(f"{len(index['examples'])} activation images", file=log)
