# The two commands of the README: `make run` (set up .venv, run the workflow on the
# embedded default) and `make test` (set up .venv, run the test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
# A config read on top of config.yaml, e.g. CONFIG=config/full.yaml (empty: the default).
CONFIG ?=
# Test files run side by side, one file per worker (at most 4; 0 = one process).
TEST_WORKERS ?= auto

.PHONY: run test test-fast lint bench report clean

# The workflow's dependencies, byte-compiled on every core (pip compiles on one). Jobs need
# the .pyc files: with PYTHONDONTWRITEBYTECODE set, each would compile torch anew. A few
# files of dependencies' own tests are for newer Pythons and do not compile (pip skips
# them silently too): compileall's status is not the install's.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e .
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	touch $@

# The test tools and oracles on top (KeplerMapper, DeepDataProfiler, playwright, ...).
$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet --no-compile -e '.[test]'
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	touch $@

run: $(BIN)/.installed
	$(BIN)/snakemake --cores $(CORES) $(if $(CONFIG),--configfile $(CONFIG))
	@echo "Open results/explorer/index.html. The commands (snakemake, topoact) are in"
	@echo "$(BIN): run '. $(BIN)/activate' in your shell to use them by name."

test: $(BIN)/.installed-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile

# The edit-test loop: everything but the Snakemake runs, SLURM and the browser.
test-fast: $(BIN)/.installed-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile \
		-m "not workflow and not slurm and not browser and not load"

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

# After `make run` (the benchmarks read its stores); see bench/RESULTS.md.
bench: $(BIN)/.installed-test
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/mapper.py --cloud results/activations/digits/digits-cnn/seed-0/full/conv3.zarr
	$(BIN)/python bench/mapper.py
	$(BIN)/python bench/mapper.py --synthetic 300000 1024 --skip-kmapper --skip-single
	$(BIN)/python bench/mapper.py --synthetic 1000000 128 --one-graph
	$(BIN)/python bench/epsilon.py results/activations/digits/digits-cnn/seed-0/full/conv3.zarr
	$(BIN)/python bench/homology.py
	$(BIN)/python bench/sliced_wasserstein.py
	$(BIN)/python bench/featurevis.py
	$(BIN)/python bench/explorer.py --screenshot test-artifacts/explorer-bench.png
	$(BIN)/python bench/weights.py
	$(BIN)/python bench/profiles.py
	$(BIN)/python bench/stability.py
	$(BIN)/python bench/serve_load.py
	$(BIN)/python bench/sync_count.py results/activations/digits/digits-cnn/seed-0/full/conv3.zarr
	$(BIN)/python bench/stability.py --cloud results/activations/digits/digits-cnn/seed-0/full/conv3.zarr --bootstrap 20 --skip-single
	$(BIN)/python bench/serve.py

clean:
	rm -rf results .snakemake
