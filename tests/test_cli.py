"""The topoact command line."""

import subprocess

from conftest import ROOT


def _topoact(*args):
    return subprocess.run([str(ROOT / ".venv/bin/topoact") if (ROOT / ".venv/bin/topoact").exists()
                           else "topoact", *args], capture_output=True, text=True)


def test_help_lists_the_commands():
    result = _topoact("--help")
    assert result.returncode == 0
    for command in ("layers", "info", "check-config"):
        assert command in result.stdout


def test_layers_prints_names_and_shapes():
    result = _topoact("layers", "small-cnn")
    assert result.returncode == 0
    assert "conv3" in result.stdout and "(128, 8, 8)" in result.stdout


def test_info_summarises_a_store(digits_store):
    result = _topoact("info", str(digits_store), "--attrs")
    assert result.returncode == 0
    assert "kind 'images', complete True" in result.stdout
    assert "(1797, 32, 32, 3)" in result.stdout and '"classes"' in result.stdout
