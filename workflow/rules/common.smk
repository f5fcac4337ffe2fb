# What every stage shares: the run's plan (topoact.plan: path templates, targets, the
# grid, and each stage's input and params functions, which the rules name as PLAN.*),
# wildcard constraints and scheduling priorities.
import re

from topoact.layers import IMAGENET_WEIGHTS
from topoact.names import DEEPLAB_WEIGHTS, EPSILON_MODES, SAMPLING_PATTERN
from topoact.plan import (ACTIVATIONS, DATA, EPSILON, EXAMPLES, GRID_DISTANCES, HOMOLOGY,
                          LAYER_PASS, MAPPER_SHARDS, MASKS, MODEL_SIDECAR, MODEL_WEIGHTS,
                          PROFILES, PURITY, RECEPTIVE_FIELDS, RESULTS, SNAPSHOT_STORE,
                          STABILITY_PASS, STABILITY_RUN, WEIGHT_CORE, WEIGHT_POINTS, WEIGHTS,
                          Plan, noise_of)

PLAN = Plan(config)
# The templates whose parameter-set folder names the run's cover.
PARAMETERS = PLAN.parameters
GRAPH = PLAN.graph
NODE_IMAGES = PLAN.node_images
STABILITY = PLAN.stability
NEVER = "(?!)"  # a wildcard constraint no value matches


def choices(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(str(name)) for name in names)


wildcard_constraints:
    dataset=choices(PLAN.dataset_names()),
    model=choices(config["models"]),
    seed=r"\d+",
    architecture=choices(IMAGENET_WEIGHTS),
    sampling=SAMPLING_PATTERN,
    layer=choices(PLAN.layer_names()),
    overlap=r"\d+(\.\d+)?",
    epsilon=choices(EPSILON_MODES),
    snapshot=r"(iteration-\d+|final)(-update)?",
    k=r"\d+",
    keep=r"\d+(\.\d+)?",
    neuron="channel|element",
    shard=r"\d+",


# Scheduling on a few cores. A two-thread job cannot start beside a one-thread job, so
# the jobs that may take two threads (training, extraction and ε of `full` clouds,
# profiles) go first: after them the DAG is one-thread jobs that pair up, and no core
# idles beside a lone one. Of those, the longest (data examples) start as soon as they
# are ready, not last and alone.
TWO_THREAD_PRIORITY = 10
LONG_JOB_PRIORITY = 5
# A layer's graphs are built before the stability jobs that read them start, so that the
# first of those finds every graph of the layer for its shared pass.
GRAPH_PRIORITY = 1


def gpu_request(wildcards=None):
    """GPU stages ask the scheduler for a GPU only when the config says cuda."""
    return 1 if config["device"] == "cuda" else 0
