"""envs/*.yaml repeat pyproject's requirement strings exactly."""

import ast
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import tomllib
import yaml
from packaging.requirements import Requirement

from conftest import ROOT
from topoact import config


def _normalised(text: str) -> tuple[str, str]:
    requirement = Requirement(text)
    return requirement.name.lower().replace("_", "-"), str(requirement.specifier)


def test_conda_environment_pins_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = dict(_normalised(r) for r in project["dependencies"])
    env_files = sorted((ROOT / "envs").glob("*.yaml"))
    assert env_files, "envs/ holds no environment file"
    for env_file in env_files:
        env = yaml.safe_load(env_file.read_text())
        pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
        assert pip_sections, f"{env_file.name}: no pip section"
        for line in pip_sections[0]:
            name, specifier = _normalised(line)
            assert name in declared, f"{env_file.name}: {name} is not a dependency in pyproject"
            assert specifier == declared[name], (
                f"{env_file.name}: {name}{specifier} differs from pyproject's "
                f"{name}{declared[name]}")


#: Import names whose distribution is named otherwise.
DISTRIBUTION = {"sklearn": "scikit-learn", "igraph": "python-igraph", "yaml": "pyyaml",
                "PIL": "pillow", "cv2": "opencv-python-headless", "lucent": "torch-lucent"}
#: Imported only for an optional extra (`pip install -e '.[timm]'`), not by the defaults.
OPTIONAL = {"timm"}
LIBRARY = ROOT / "workflow" / "topoact"


def _module_file(name: str) -> Path | None:
    path = LIBRARY.joinpath(*name.split(".")[1:])
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if node.module == "topoact":
                names |= {f"topoact.{alias.name}" for alias in node.names}
    return names


def _third_party_imports(script: Path) -> set[str]:
    """The third-party modules a script imports, itself or through the topoact modules
    it imports (transitively; function-level imports included, so a superset)."""
    seen, todo, found = set(), [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "topoact":
                todo += [m for k in range(2, len(parts) + 1)
                         if (m := _module_file(".".join(parts[:k])))]
            elif parts[0] not in sys.stdlib_module_names:
                found.add(parts[0])
    return found


def _rule_environments() -> list[tuple[str, str, str]]:
    """(rule, env file stem, script name) of every rule with both."""
    rules = []
    for smk in sorted((ROOT / "workflow/rules").glob("*.smk")):
        for match in re.finditer(r"^\s*rule (\w+):\n((?:[ \t]+.*\n|\n)*)", smk.read_text(), re.M):
            env = re.search(r'conda:\n\s+"\.\./\.\./envs/([\w-]+)\.yaml"', match[2])
            script = re.search(r'script:\n\s+"\.\./scripts/([\w-]+\.py)"', match[2])
            if script:
                assert env, f"rule {match[1]} runs a script without a conda environment"
                rules.append((match[1], env[1], script[1]))
    return rules


def test_each_environment_names_everything_its_rules_import():
    listed = {}
    for env_file in (ROOT / "envs").glob("*.yaml"):
        env = yaml.safe_load(env_file.read_text())
        pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
        listed[env_file.stem] = {_normalised(line)[0] for line in pip}
    rules = _rule_environments()
    assert len(rules) > 30
    for rule, env, script in rules:
        needed = {DISTRIBUTION.get(name, name).lower()
                  for name in _third_party_imports(ROOT / "workflow/scripts" / script)} - OPTIONAL
        assert needed <= listed[env], f"rule {rule} (envs/{env}.yaml) lacks {needed - listed[env]}"


def test_each_environment_makes_the_library_importable(tmp_path, monkeypatch):
    """The post-deploy script Snakemake runs in a new environment (`--sdm conda`), here
    run in a fresh virtual environment: topoact then imports there, from this checkout."""
    for env_file in (ROOT / "envs").glob("*.yaml"):
        deploy = env_file.with_name(f"{env_file.stem}.post-deploy.sh")
        assert deploy.resolve() == (ROOT / "envs/install-topoact.sh"), deploy
    venv.create(tmp_path / "env", with_pip=False)
    env = {**os.environ, "PATH": f"{tmp_path / 'env/bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    check = [str(tmp_path / "env/bin/python"), "-c", "import topoact.names, sys; "
             "print(topoact.names.__file__)"]
    assert subprocess.run(check, env=env, capture_output=True, cwd=tmp_path).returncode != 0
    script = str(ROOT / "envs/install-topoact.sh")
    refused = subprocess.run(["sh", script], env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "TOPOACT_LIBRARY" in refused.stderr
    wrong = subprocess.run(["sh", script], env={**env, "TOPOACT_LIBRARY": str(tmp_path)},
                           capture_output=True, text=True)
    assert wrong.returncode != 0 and "no topoact package there" in wrong.stderr
    monkeypatch.delenv("TOPOACT_LIBRARY", raising=False)
    assert config.export_library_path() == str(LIBRARY.parent)  # what the Snakefile sets
    subprocess.run(["sh", script], env={**env, "TOPOACT_LIBRARY": os.environ["TOPOACT_LIBRARY"]},
                   check=True, capture_output=True)
    imported = subprocess.run(check, env=env, capture_output=True, text=True, cwd=tmp_path,
                              check=True)
    assert imported.stdout.strip() == str(LIBRARY / "names.py")
