# TopoAct workflow: dataset -> model -> activations -> (epsilon -> mapper grid -> purity;
# top-l2 clouds -> persistence -> sliced-Wasserstein distances). See README.md and docs/.
from snakemake.utils import min_version

min_version("8.20")

# The library (workflow/topoact) is installed by `pip install -e .` (see README).
from topoact.config import SCHEMA, export_library_path, validate_config

# With --sdm conda, each environment's post-deploy script (envs/install-topoact.sh) makes
# the library importable there from where this process imports it.
export_library_path()


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# The schema ships with the library (workflow/schemas/config.schema.yaml links to it).
validate_config(config, SCHEMA, "config")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/foreground.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/mapper.smk"
include: "workflow/rules/stability.smk"
include: "workflow/rules/homology.smk"
include: "workflow/rules/featurevis.smk"
include: "workflow/rules/weights.smk"
include: "workflow/rules/profiles.smk"
include: "workflow/rules/explorer.smk"


rule all:
    input:
        PLAN.targets(),
    default_target: True
