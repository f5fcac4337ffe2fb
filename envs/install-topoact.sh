#!/usr/bin/env sh
# Post-deploy script of every environment under envs/ (each <env>.post-deploy.sh links
# here). With `--sdm conda`, Snakemake runs it inside a newly created environment: it
# makes the workflow's own library, topoact, importable there from this checkout, so
# that code changes reach the jobs without rebuilding environments. The Snakefile sets
# TOPOACT_ROOT to its own directory.
set -eu
: "${TOPOACT_ROOT:?the Snakefile sets TOPOACT_ROOT; run this through snakemake --sdm conda}"
python - <<'PYTHON'
import os
import sysconfig

library = os.path.join(os.environ["TOPOACT_ROOT"], "workflow")
if not os.path.isdir(os.path.join(library, "topoact")):
    raise SystemExit(f"TOPOACT_ROOT={os.environ['TOPOACT_ROOT']}: no workflow/topoact there")
site_packages = sysconfig.get_paths()["purelib"]
with open(os.path.join(site_packages, "topoact-workflow.pth"), "w") as pth:
    pth.write(library + "\n")
print(f"topoact importable from {library} ({site_packages}/topoact-workflow.pth)")
PYTHON
