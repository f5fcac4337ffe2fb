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


def test_mapper_and_epsilon_commands_on_a_npy_cloud(tmp_path):
    import json

    import numpy as np

    from topoact import mapper

    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.2, (150, 4)) + 3, rng.normal(0, 0.2, (150, 4))])
    labels = np.repeat([0, 1], 150)
    np.save(tmp_path / "x.npy", points.astype(np.float32))
    np.save(tmp_path / "y.npy", labels)
    result = _topoact("epsilon", str(tmp_path / "x.npy"), "--k", "5",
                      "--json", str(tmp_path / "eps.json"), "--plot", str(tmp_path / "eps.png"))
    assert result.returncode == 0, result.stderr
    eps = json.loads((tmp_path / "eps.json").read_text())["epsilon"]
    assert eps > 0 and (tmp_path / "eps.png").exists()
    out = tmp_path / "graph.json"
    result = _topoact("mapper", str(tmp_path / "x.npy"), "--intervals", "10", "--overlap",
                      "0.3", "--eps", str(eps), "--labels", str(tmp_path / "y.npy"),
                      "--out", str(out))
    assert result.returncode == 0, result.stderr
    graph = json.loads(out.read_text())
    expected = mapper.build_mapper(points.astype(np.float32), 10, 0.3, eps, 5)
    assert len(graph["nodes"]) == expected.n_nodes > 0
    assert sorted(map(sorted, (n["membership"] for n in graph["nodes"]))) == \
        sorted(expected.members(i).tolist() for i in range(expected.n_nodes))
    assert {n["top_classes"][0] for n in graph["nodes"]} == {"0", "1"}
    result = _topoact("mapper", str(tmp_path / "x.npy"), "--eps", "0", "--out", str(out))
    assert result.returncode != 0 and "ε must be a positive number" in result.stderr
