#!/usr/bin/env sh
# Post-deploy script of every environment under envs/ (each <env>.post-deploy.sh links
# here). With `--sdm conda`, Snakemake runs it inside a newly created environment: it
# makes the workflow's own library, topoact, importable there from this checkout, so
# that code changes reach the jobs without rebuilding environments. The Snakefile sets
# TOPOACT_LIBRARY to the folder holding the package (topoact.config.export_library_path).
set -eu
: "${TOPOACT_LIBRARY:?the Snakefile sets TOPOACT_LIBRARY; run this through snakemake --sdm conda}"
python - <<'PYTHON'
import os
import sysconfig

library = os.environ["TOPOACT_LIBRARY"]
if not os.path.isfile(os.path.join(library, "topoact", "__init__.py")):
    raise SystemExit(f"TOPOACT_LIBRARY={library}: no topoact package there")
site_packages = sysconfig.get_paths()["purelib"]
with open(os.path.join(site_packages, "topoact-workflow.pth"), "w") as pth:
    pth.write(library + "\n")
print(f"topoact importable from {library} ({site_packages}/topoact-workflow.pth)")
PYTHON
