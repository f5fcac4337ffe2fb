# Grid helpers, wildcard constraints and input/param functions (no rules here).
import re

from topoact.models import get_architecture, layer_module
from topoact.sampling import SAMPLINGS


def choices(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(str(name)) for name in names)


wildcard_constraints:
    dataset=choices(config["datasets"]),
    model=choices(config["models"]),
    seed=r"\d+",
    sampling=choices(SAMPLINGS),
    layer=r"[A-Za-z0-9_][A-Za-z0-9_.\-]*",


RESULTS = "results"


def gpu_request(wildcards=None):
    """GPU stages ask the scheduler for a GPU only when the config says cuda."""
    return 1 if config["device"] == "cuda" else 0


def model_config(wildcards):
    return config["models"][wildcards.model]


def training_images(wildcards):
    return f"{RESULTS}/data/{model_config(wildcards)['dataset']}.zarr"


def layer_module_path(wildcards):
    return layer_module(model_config(wildcards)["architecture"], wildcards.layer)


def trained_models():
    """Weights of every (model, seed) some analysis uses."""
    return sorted(
        {
            f"{RESULTS}/models/{a['model']}/seed-{seed}.pt"
            for a in config["analyses"]
            for seed in a["seeds"]
        }
    )


def activation_stores(samplings=None):
    """Activation stores of every (analysis, seed, sampling, layer) of the config."""
    samplings = samplings or config["activations"]["samplings"]
    return sorted(
        {
            f"{RESULTS}/activations/{a['dataset']}/{a['model']}/seed-{seed}/{sampling}/{layer}.zarr"
            for a in config["analyses"]
            for seed in a["seeds"]
            for sampling in samplings
            for layer in a["layers"]
        }
    )
