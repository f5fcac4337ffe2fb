"""The workflow reused as a Snakemake module (`module topoact: ...; use rule * from
topoact as topoact_*`) from an outer workflow in another folder, as docs/module.md shows."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import ROOT, SNAKEMAKE, snakemake, tiny_config, write_config
from topoact import store

pytestmark = pytest.mark.workflow

OUTER = """\
configfile: "outer.yaml"


module topoact:
    snakefile: "{snakefile}"
    config: config


use rule * from topoact as topoact_*
"""
TARGET = "results/mapper/digits/digits-cnn/seed-0/top-l2/overlap-30-epsilon-adaptive/fc1"


def outer(directory, *args: str) -> subprocess.CompletedProcess:
    """Snakemake on the outer workflow in ``directory`` (its own Snakefile and config)."""
    result = subprocess.run([*SNAKEMAKE, "--cores", "2", *args], capture_output=True,
                            text=True, cwd=directory)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def job_counts(output: str) -> dict[str, int]:
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", output, flags=re.M)}


def test_an_outer_workflow_plans_every_job_and_runs_a_graph_and_its_report(tmp_path):
    (tmp_path / "Snakefile").write_text(OUTER.format(snakefile=ROOT / "Snakefile"))
    config = tiny_config()
    write_config(tmp_path, config, "outer.yaml")
    # The whole DAG: the same jobs as the workflow run on its own, each rule prefixed.
    planned = job_counts(outer(tmp_path, "-n", "--quiet", "rules").stdout)
    alone = job_counts(snakemake(tmp_path, tmp_path / "outer.yaml", "-n", "--quiet",
                                 "rules").stdout)
    assert planned == {f"topoact_{rule}" if rule != "total" else rule: n
                       for rule, n in alone.items()}
    assert planned["total"] > 30
    # One real target through data, model, extraction, ε and mapper (the rules' scripts,
    # resolved from the module), its results in the outer folder, and the report's
    # captions and workflow description read from the module.
    outer(tmp_path, f"{TARGET}.png")
    graph, _, attrs = store.read_graph(tmp_path / f"{TARGET}.zarr")
    assert graph.n_nodes > 0 and attrs["name"] == "overlap-30-epsilon-adaptive"
    assert (tmp_path / "results/epsilon/digits/digits-cnn/seed-0/top-l2/fc1.png").exists()
    outer(tmp_path, "--report", "report.html", f"{TARGET}.png")
    text = (tmp_path / "report.html").read_text(errors="replace")
    assert "Mapper graphs" in text and "The runtime of every job" in text
