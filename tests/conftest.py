"""Shared fixtures: tiny data, a tiny trained model, and helpers to run Snakemake."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from filelock import FileLock
from PIL import Image

from topoact import data, models, store
from topoact.steps.models import train_from_store

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

#: The files that take longest (``--durations``): the presets' rehearsals first, then the
#: SLURM test (it mostly waits on the cluster), then the longest first. ``make test``
#: hands whole files to its workers (pytest-xdist ``--dist loadfile``) in collection
#: order, so these go first: started last, one of them would end the run alone.
LONGEST_FILES = ("test_rehearsal.py", "test_rehearsal_purvine.py", "test_slurm.py",
                 "test_workflow_own_runs.py", "test_workflow.py", "test_user_models.py",
                 "test_weights.py", "test_mapper_jobs.py",
                 "test_profiles.py", "test_bench.py",
                 "test_epsilon.py", "test_module.py", "test_serve.py", "test_presets.py",
                 "test_install.py", "test_featurevis.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collect the longest files first (a stable sort: each file keeps its order), and mark
    every test that drives the headless browser ``browser`` (``make test-fast`` leaves
    out the ``workflow``, ``slurm`` and ``browser`` tests)."""
    rank = {name: position for position, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FILES)))
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def tiny_config(**activations) -> dict:
    """A config that runs the whole workflow in seconds: 1 epoch, two layers, a small grid."""
    return {
        "device": "cpu",
        "datasets": {"digits": {"loader": "digits", "image_size": 32}},
        "models": {"digits-cnn": {"architecture": "small-cnn", "dataset": "digits", "epochs": 1}},
        "analyses": [{"dataset": "digits", "model": "digits-cnn", "seeds": [0],
                      "layers": ["conv3", "fc1"]}],
        "activations": {"samplings": ["random", "full", "top-l2"], "batch_size": 256,
                        **activations},
        "mapper": {"samplings": ["random", "top-l2"], "intervals": 15, "overlaps": [30],
                   "epsilons": ["adaptive", "fixed"], "fixed_epsilon": 4.0},
        "homology": {"seeds": [0, 2], "images": 60, "batches": 2, "max_removed_components": 4},
        "featurevis": {"samplings": ["random"], "steps": 3, "examples_per_class": 1,
                       "top_classes": 2},
        "stability": {"samplings": ["random"], "bootstrap": 20},
        "weights": {"analyses": []},  # tests/test_weights.py runs that stage
        "profiles": {"neurons": []},  # tests/test_profiles.py runs that stage
    }


def write_config(directory: Path, config: dict, name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(directory: Path, configfile: Path, *args: str, check: bool = True,
              **kwargs) -> subprocess.CompletedProcess:
    """Run the real workflow of this checkout in ``directory`` with ``configfile``."""
    command = [*SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(directory),
               "--configfile", str(configfile), "--cores", "2", *args]
    result = subprocess.run(command, capture_output=True, text=True, cwd=directory,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout}\n"
                             f"{result.stderr}")
    return result


def planned_outputs(directory: Path, configfile: Path, *targets: str) -> dict[str, list[str]]:
    """What a dry run would do (for ``targets``, default all): rule → outputs of its jobs."""
    result = snakemake(directory, configfile, "--dry-run", *targets)
    jobs: dict[str, list[str]] = {}
    rule = None
    for line in (result.stdout + result.stderr).splitlines():
        stripped = line.strip()
        if line.startswith(("rule ", "localrule ")) and stripped.endswith(":"):
            rule = stripped.split()[1].rstrip(":")
            jobs.setdefault(rule, [])
        elif stripped.startswith("output:") and rule:
            jobs[rule] += [o.strip() for o in stripped[len("output:"):].split(",")]
    jobs.pop("all", None)
    return {rule: sorted(outputs) for rule, outputs in jobs.items()}


def assert_drawn(path) -> None:
    """``path`` is a PNG figure with data drawn in it, not an empty frame: at least 0.1 %
    of its pixels are in colour (the marks: nodes, bars, lines, cells), or at least 15 %
    differ from its background (the commonest colour: images, as in a contact sheet of
    grey renders). An empty figure's axes, ticks, labels and titles are black and grey
    and few. Measured: the default run's figures 0.14–53 % in colour, a 3-node graph
    0.40 %; empty axes, one or three side by side with titles, 0 % in colour and at most
    2 % off the background."""
    with Image.open(path) as image:
        assert image.format == "PNG", f"{path}: not a PNG"
        pixels = np.asarray(image.convert("RGB")).astype(np.int16)
    coloured = ((pixels.max(axis=2) - pixels.min(axis=2)) > 40).mean()
    colours, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_counts=True)
    marked = (np.abs(pixels - colours[counts.argmax()]).max(axis=2) > 24).mean()
    assert coloured >= 0.001 or marked >= 0.15, \
        f"{path}: looks empty ({coloured:.3%} of it in colour, {marked:.1%} marked)"


TORCH_IMPORTED = "torch imported"


def without_torch(directory: Path) -> dict[str, str]:
    """An environment whose path starts with a ``torch`` that fails on import with
    :data:`TORCH_IMPORTED` (made in ``directory``): what runs in it must not load torch."""
    fake = directory / "no-torch" / "torch"
    fake.mkdir(parents=True, exist_ok=True)
    (fake / "__init__.py").write_text(f"raise ImportError({TORCH_IMPORTED!r})\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(fake.parent), os.environ.get("PYTHONPATH", "")])}


def imports_torch(module: str, directory: Path) -> bool:
    """Whether importing ``module`` in a fresh interpreter loads torch (see
    :func:`without_torch`). Raises when the import fails for another reason."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                            text=True, env=without_torch(directory))
    loaded = TORCH_IMPORTED in result.stderr
    if result.returncode != 0 and not loaded:
        raise AssertionError(f"import {module} failed: {result.stderr}")
    return loaded


def made_once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """A file made once for the whole test session by ``make(path)`` and shared by its
    pytest-xdist workers (the first to ask makes it under a lock, the others wait and
    read it): tests read it, never write it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # this session's folder, above each worker's own
    path = root / "made-once" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):
        if not path.exists():
            make(path)
    return path


def _write_digits(path: Path) -> None:
    source = data.load_digits()
    store.write_images(path, source.batches(500), count=source.count,
                       image_shape=source.image_shape, classes=source.classes,
                       splits=source.splits, source=source.source,
                       attrs=store.provenance({}, {}, 0))


@pytest.fixture(scope="session")
def digits_store(tmp_path_factory) -> Path:
    """The digits images store (32×32 RGB), written once per test session."""
    return made_once(tmp_path_factory, "digits.zarr", _write_digits)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, digits_store) -> Path:
    """The embedded model trained for a few epochs on digits, saved with its sidecar:
    trained once per test session (every training of it gives the same weights)."""
    def train(path: Path) -> None:
        torch.manual_seed(0)
        model, metadata = train_from_store(
            digits_store, "small-cnn", seed=0, epochs=3, batch_size=64, learning_rate=3e-3,
            weight_decay=1e-4, device=torch.device("cpu"))
        models.save_model(model, path, metadata)

    return made_once(tmp_path_factory, "seed-0.pt", train)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
