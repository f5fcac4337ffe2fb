#!/usr/bin/env bash
# The GPU check, one prepared script (bench/RESULTS.md, "GPU"): on a CUDA machine, within
# about 8 minutes, it makes its own inputs (bench/gpu_setup.py: the digits store, the
# embedded model trained there, the full/conv3 cloud and the graphs featurevis renders),
# then prints, each side by side in one run:
#   1. the engine's default grid (3 overlaps x 2 eps) on full/conv3 against KeplerMapper
#      + scikit-learn DBSCAN on the CPU, same graphs checked (bench/mapper.py);
#   2. extraction against a bare forward pass, on 28,752 images (bench/extract.py);
#   3. batched feature visualization at 512 steps against one-at-a-time lucent
#      render_vis (bench/featurevis.py);
#   4. the ε of full/conv3 from k-means cells against the exact k-NN of every point,
#      both on the device (bench/epsilon.py);
#   5. where the engine's time goes on the device: the grid cold, warm with 1 and 4
#      worker threads and with 8× larger slabs and chunks, under torch.profiler and
#      cProfile (bench/engine_profile.py);
#   6. the GPU anchor: cuML's DBSCAN per interval of the same cover against the engine's
#      grid, node sets compared (bench/cuml_dbscan.py) -- where cuML imports. Its wheels
#      do not fit the 64 MiB a lent machine receives (libcuml-cu12 26.10 alone is 99 MB,
#      with librmm, libraft, rmm, pylibraft and cupy besides), so on those machines the
#      step says it is skipped; on a machine with RAPIDS (pip install cuml-cu12) it runs.
# First run on an H200 (2026-12-04, bench/RESULTS.md "GPU"): 496 s with 16 targets, the
# one-at-a-time lucent side 240 s of it; 8 targets leave room for step 5 (~60 s).
#
# Usage:  bench/gpu.sh                 (DEVICE=cpu STEPS=8 TARGETS=2 bench/gpu.sh: a dry check)
# It uses .venv/bin/python where there is one, else python3 (set PYTHON to choose), and
# the library from this checkout. A machine without network (the lent GPU machines)
# needs the packages its python lacks as wheels in .whl/ (installed to /tmp/topoact-site);
# the script names what is missing. For the H200 image (python 3.12, torch 2.11, numpy,
# scipy, scikit-learn, numba, pandas, matplotlib there), these 31 wheels (23 MB) did it:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     zarr numcodecs donfig google-crc32c deprecated kmapper torch-lucent kornia==0.4.1 \
#     python-igraph igraph texttable pynndescent jsonschema jsonschema-specifications \
#     referencing rpds-py ipython ipython-pygments-lexers jedi parso matplotlib-inline \
#     pexpect ptyprocess prompt_toolkit stack-data executing asttokens pure_eval \
#     traitlets wcwidth decorator
# (lucent's render imports IPython.display, hence ipython and its dependencies.)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-512}
TARGETS=${TARGETS:-8}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" > /dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/topoact-site .whl/*.whl
    export PYTHONPATH=/tmp/topoact-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/workflow${PYTHONPATH:+:$PYTHONPATH}

"$PYTHON" - "$DEVICE" <<'PYTHON'
import importlib, sys
missing = []
for name in ("torch", "torchvision", "numpy", "scipy", "sklearn", "zarr", "kmapper", "lucent",
             "igraph", "pynndescent", "matplotlib", "tqdm", "pandas", "yaml", "jsonschema"):
    try:
        importlib.import_module(name)
    except Exception as error:  # an import can fail with more than ImportError
        missing.append(f"{name} ({type(error).__name__}: {error})")
if missing:
    sys.exit("bench/gpu.sh: missing Python packages: " + "; ".join(missing)
             + " (carry them as wheels in .whl/, see the script's header)")
import torch
if sys.argv[1] == "cuda" and not torch.cuda.is_available():
    sys.exit("bench/gpu.sh: DEVICE=cuda but torch sees no GPU")
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, "
      f"device {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'}")
PYTHON

WORK=$(mktemp -d /tmp/topoact-gpu-XXXX)
trap 'rm -rf "$WORK"' EXIT
CLOUD=$WORK/results/activations/digits/digits-cnn/seed-0/full/conv3.zarr
start=$(date +%s)
echo "== inputs ($DEVICE)"
"$PYTHON" bench/gpu_setup.py "$WORK/results" --device "$DEVICE"
echo "== 1. mapper grid on full/conv3: engine ($DEVICE) vs KeplerMapper (CPU)"
"$PYTHON" bench/mapper.py --cloud "$CLOUD" --device "$DEVICE" --skip-single
echo "== 2. extraction vs a bare forward pass ($DEVICE), the digits 16 times over"
# (1,797 images are milliseconds of forward pass on a GPU: the first run measured only the
# store's fixed costs; `full` on 28,752 images would write 1.8 M points per store.)
"$PYTHON" bench/extract.py --device "$DEVICE" --repeats 2 --copies 16 --samplings random top-l2
echo "== 3. feature visualization, $STEPS steps, $TARGETS targets per layer ($DEVICE)"
"$PYTHON" bench/featurevis.py --results "$WORK/results" --device "$DEVICE" --steps "$STEPS" \
    --targets "$TARGETS" --batch-size "$TARGETS" --threads "$(nproc)" --powers
echo "== 4. ε of full/conv3: k-means cells vs the exact k-NN of every point ($DEVICE)"
"$PYTHON" bench/epsilon.py "$CLOUD" --device "$DEVICE" --sizes
echo "== 5. where the engine's time goes on full/conv3 ($DEVICE)"
"$PYTHON" bench/engine_profile.py "$CLOUD" --device "$DEVICE" --workers 1 4 --slab-scales 8
echo "== 6. the engine's grid vs cuML's DBSCAN per interval on full/conv3 ($DEVICE)"
if "$PYTHON" -c "import cuml" 2>/dev/null; then
    "$PYTHON" bench/cuml_dbscan.py "$CLOUD" --device "$DEVICE"
else
    echo "skipped: cuML does not import here (pip install cuml-cu12; see this script's header)"
fi
echo "== bench/gpu.sh done in $(( $(date +%s) - start )) s"
