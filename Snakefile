# TopoAct workflow: dataset -> model -> activations -> (epsilon -> mapper -> purity, featurevis, explorer;
# top-l2 clouds -> persistence -> sliced Wasserstein). See README.md and DESIGN.md.
import os
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("8.20")

# The scripts import the library from this checkout (workflow/topoact), also in conda
# environments and on cluster nodes where it is not pip-installed.
LIBRARY = str(Path(workflow.basedir) / "workflow")
sys.path.insert(0, LIBRARY)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [LIBRARY, os.environ.get("PYTHONPATH")]))

from topoact.config import validate_config


configfile: "config.yaml"


validate_config(config, workflow.source_path("workflow/schemas/config.schema.yaml"), "config")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/activations.smk"


rule all:
    input:
        trained_models(),
        activation_stores(),
    default_target: True
