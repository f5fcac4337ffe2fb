"""The package as a user installs it: a wheel built with `python -m build`, installed (not
editable) into a fresh virtual environment, used from a folder outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from test_serve import free_port
from trove_classifiers import classifiers as known

from conftest import ROOT
from topoact import __version__, store

pytestmark = pytest.mark.workflow  # builds and installs: minutes, not seconds


def run(*command: str | Path, cwd: Path) -> str:
    # Without PYTHONPATH: the installed package, not a checkout on the path, must answer.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd,
                            env=environment)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the venv's bin folder, a work folder outside the checkout) with the wheel installed.

    The wheel is built from a copy of the package's sources (sdist, then the wheel from
    the sdist, as `python -m build` does), so the checkout is left as it is. The new venv
    borrows this environment's dependencies through a path file (a fresh torch would be
    gigabytes to download); its `topoact` is the wheel's, and the tests check it is."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "workflow/topoact", source / "workflow/topoact",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", base / "dist", source,
        cwd=base)
    wheel = next((base / "dist").glob("topoact-*.whl"))
    run(sys.executable, "-m", "venv", base / "venv", cwd=base)
    bin_dir = base / "venv/bin"
    site = run(bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
               cwd=base).strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(bin_dir / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
        wheel, cwd=base)
    work = base / "work"
    work.mkdir()
    return bin_dir, work


def test_the_wheel_holds_the_schema_and_the_explorer_assets(installed):
    bin_dir, work = installed
    found = run(bin_dir / "python", "-c", "import topoact, topoact.config as c; "
                "print(topoact.__file__); print(c.SCHEMA)", cwd=work).split()
    assert "site-packages" in found[0] and str(ROOT) not in found[0]
    assert Path(found[1]).is_file()
    assets = Path(found[0]).parent / "explorer/assets"
    assert sorted(p.name for p in assets.iterdir()) == ["explorer.css", "explorer.js", "live.js"]
    templates = Path(found[0]).parent / "explorer/templates"
    assert sorted(p.name for p in templates.iterdir()) == ["index.html", "profiles.html"]


def test_the_installed_command_checks_lists_and_builds(installed):
    bin_dir, work = installed
    topoact = bin_dir / "topoact"
    assert run(topoact, "--version", cwd=work).strip() == f"topoact {__version__}"
    shutil.copy(ROOT / "config.yaml", work / "config.yaml")
    assert "valid" in run(topoact, "check-config", "config.yaml", cwd=work)
    layers = run(topoact, "layers", "small-cnn", cwd=work)
    assert "conv3" in layers and "activation (128, 8, 8)" in layers
    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal(0, 0.1, (60, 3)), rng.normal(3, 0.1, (60, 3))])
    np.save(work / "points.npy", blobs.astype(np.float32))
    said = run(topoact, "mapper", "points.npy", "--intervals", "4", "--overlap", "0.3",
               "--eps", "0.5", "--min-samples", "3", "--out", "graph.json", cwd=work)
    assert said.startswith("2 nodes, 0 edges"), said
    assert len(store.read_json(work / "graph.json")["nodes"]) == 2


def test_the_installed_server_answers_a_page_request(installed):
    bin_dir, work = installed
    results = work / "results"
    cloud = results / "activations/d/m/seed-0/random/l.zarr"
    points = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)
    with store.atomic_group(cloud, "activations", {"classes": ["a"]}) as group:
        writer = store.ActivationWriter(group, 50, 4, 1 << 20)
        writer.append(points, np.arange(50, dtype=np.int32), np.zeros((50, 2), np.int16),
                      np.zeros(50, np.int16))
        writer.close()
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    server = subprocess.Popen([bin_dir / "topoact", "serve", results, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=work, env=environment)
    try:
        line = server.stdout.readline()
        assert line.startswith(f"open http://127.0.0.1:{port}/?token="), line
        for _ in range(300):
            try:
                with urllib.request.urlopen(line.split()[1], timeout=5) as page:
                    html = page.read().decode()
                break
            except OSError:
                server.poll()
                assert server.returncode is None, server.stdout.read()
                time.sleep(0.2)
        assert "TopoAct explorer" in html and "live.js" in html
    finally:
        server.kill()
        server.wait()


def test_the_wheel_carries_what_a_package_index_shows(installed):
    bin_dir, work = installed
    shown = json.loads(run(bin_dir / "python", "-c", "import json, importlib.metadata as m; "
                           "d = m.metadata('topoact'); print(json.dumps({k: d.get_all(k) "
                           "for k in ('Version', 'Summary', 'License-Expression', "
                           "'Project-URL', 'Classifier', 'Description-Content-Type')}))",
                           cwd=work))
    assert shown["Version"] == [__version__] and shown["License-Expression"] == ["MIT"]
    assert shown["Description-Content-Type"] == ["text/markdown"] and shown["Summary"]
    assert shown["Project-URL"] and all("https://" in url for url in shown["Project-URL"])
    assert len(shown["Classifier"]) >= 5 and set(shown["Classifier"]) <= known
