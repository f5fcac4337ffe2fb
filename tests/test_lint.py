"""The code is ruff-clean and the workflow passes `snakemake --lint`."""

import re
import subprocess
import sys

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
