"""The code is ruff-clean and the workflow passes `snakemake --lint`."""

import subprocess
import sys

from conftest import ROOT, SNAKEMAKE


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout


def test_snakemake_lint_is_clean():
    result = subprocess.run([*SNAKEMAKE, "--lint", "--snakefile", str(ROOT / "Snakefile")],
                            capture_output=True, text=True, cwd=ROOT)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Congratulations" in output, output
