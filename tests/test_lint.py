"""The code is ruff-clean, the workflow passes `snakemake --lint`, and the library keeps
its layering (algorithms free of files and figures)."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SNAKEMAKE, TORCH_IMPORTED, without_torch


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout


@pytest.mark.workflow
@pytest.mark.parametrize("mapper_jobs", ["shared", "graph", "grid"])
def test_snakemake_lint_is_clean(mapper_jobs, tmp_path):
    """The three ways of splitting the mapper grid into jobs define different rules."""
    configfile = tmp_path / "config.yaml"
    configfile.write_text(f"mapper:\n  jobs: {mapper_jobs}\n")
    result = subprocess.run([*SNAKEMAKE, "--lint", "--snakefile", str(ROOT / "Snakefile"),
                             "--configfile", str(configfile)],
                            capture_output=True, text=True, cwd=ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Congratulations" in output, output


@pytest.mark.workflow
def test_parsing_the_workflow_does_not_import_torch(tmp_path):
    """`snakemake -n` (and every cluster job's parse) must not pay torch's import: a
    `torch` that fails on import, first on the path, leaves the dry run working."""
    result = subprocess.run([*SNAKEMAKE, "-n", "--cores", "1", "--snakefile",
                             str(ROOT / "Snakefile"), "--configfile", str(ROOT / "config.yaml"),
                             "--directory", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, env=without_torch(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert TORCH_IMPORTED not in output
    assert "rule build_mapper" in output or "build_mapper" in output


def test_the_slurm_profile_names_existing_rules_and_covers_both_mapper_job_kinds():
    """Every rule the SLURM profile sets resources for or sends as array jobs exists, and
    both ways of building the mapper grid (per graph, per layer) get memory retries and
    array jobs."""
    rules = set(re.findall(r"^\s*rule (\w+):", "".join(
        path.read_text() for path in (ROOT / "workflow/rules").glob("*.smk")), re.M))
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    arrays = {name.strip() for name in profile["slurm-array-jobs"].split(",")}
    resources = set(profile["set-resources"])
    assert arrays <= rules and resources <= rules, (arrays | resources) - rules
    for rule in ("build_mapper", "build_mapper_grid", "graph_stability"):
        assert rule in arrays and "attempt" in str(profile["set-resources"][rule]["mem_mb"])


def rule_blocks() -> list[tuple[str, str]]:
    """(name, text) of every rule in workflow/rules."""
    text = "".join("\n" + path.read_text()
                   for path in sorted((ROOT / "workflow/rules").glob("*.smk")))
    return [(block.split(":")[0], block) for block in re.split(r"\n\s*rule (?=\w+:)", text)[1:]]


def test_every_rule_that_runs_something_has_a_benchmark():
    """`benchmark:` on every rule with a script (the report's runtimes; where time goes)."""
    blocks = rule_blocks()
    missing = [rule for rule, block in blocks if "script:" in block and "benchmark:" not in block]
    assert len(blocks) > 30 and missing == []


def test_every_two_thread_rule_runs_before_the_one_thread_jobs():
    """A two-thread job cannot start beside a one-thread job: on a few cores, every rule
    that takes two threads (always, or for `full` clouds: cloud_threads) has the priority
    that runs it first (no idle core beside a lone one-thread job, as measured in
    bench/RESULTS.md)."""
    two_thread = [(rule, block) for rule, block in rule_blocks()
                  if re.search(r"threads: (2|PLAN.cloud_threads)\n", block)]
    late = [rule for rule, block in two_thread if "priority: TWO_THREAD_PRIORITY" not in block]
    assert len(two_thread) >= 5 and late == []


def test_the_slurm_profile_lists_exactly_the_rules_that_ask_for_a_gpu():
    """docs/cluster.md and the profile name the GPU rules; with `device: cuda` each rule
    whose resources say `gpu=gpu_request` asks for one."""
    asking = sorted(rule for rule, block in rule_blocks() if "gpu=gpu_request" in block)
    text = (ROOT / "profiles/slurm/config.yaml").read_text()
    listed = re.search(r"# GPU rules: (.*?)\n  # train_model", text, re.S)[1]
    named = sorted(re.sub(r"\s*#\s*", " ", listed).replace(",", " ").split())
    assert named == asking and len(asking) >= 10
    docs = (ROOT / "docs/cluster.md").read_text()
    assert all(f"`{rule}`" in docs for rule in asking)


#: The modules that read and write files or draw figures (the store, the shared-pass
#: cache, model files, the figures, the dataset readers, the steps) and the applications
#: on top.
FILES_AND_FIGURES = {"files", "store", "passes", "models.checkpoints", "plots", "data", "jobs",
                     "steps"}
APPLICATIONS = {"cli", "serve", "explorer", "rehearsal"}


def library_imports(path: Path) -> tuple[set[str], set[str]]:
    """The library modules (first level under topoact) and the packages a file imports,
    at module level or inside functions."""
    library, packages = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            packages.add(parts[0])
            if parts[0] == "topoact":
                library.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                packages.add(parts[0])
                if parts[0] == "topoact" and len(parts) > 1:
                    library.add(parts[1])
    return library, packages


def test_algorithm_modules_touch_no_files_or_figures():
    """The layering rule (docs/testing.md): an algorithm module takes arrays and returns
    arrays, tables or small dataclasses. It imports none of the file, figure or
    application modules, nor zarr or matplotlib; the store-to-store steps that wrap it
    live in topoact.steps."""
    layered, offenders = [], {}
    for path in sorted((ROOT / "workflow/topoact").rglob("*.py")):
        parts = [p for p in path.relative_to(ROOT / "workflow/topoact").with_suffix("").parts
                 if p != "__init__"]
        name = ".".join(parts)
        if not parts or {parts[0], name} & (FILES_AND_FIGURES | APPLICATIONS):
            continue
        library, packages = library_imports(path)
        bad = (library & (FILES_AND_FIGURES | APPLICATIONS)) | (packages & {"zarr",
                                                                          "matplotlib"})
        if bad:
            offenders[name] = sorted(bad)
        else:
            layered.append(name)
    assert {"activations", "epsilon", "mapper.build", "stability.bootstrap", "homology",
            "weights.topology", "profiles.build", "featurevis.render"} <= set(layered)
    assert offenders == {}
