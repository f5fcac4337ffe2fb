"""envs/*.yaml repeat pyproject's requirement strings exactly."""

import tomllib
import yaml
from packaging.requirements import Requirement

from conftest import ROOT


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
