"""The topoact command line."""

import json
import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import ROOT, assert_drawn
from topoact import cli, mapper, stability


def _topoact(*args):
    """The installed command in a process of its own (the entry point, stderr as a user
    sees it); tests/test_install.py runs it from a wheel."""
    return subprocess.run([str(ROOT / ".venv/bin/topoact") if (ROOT / ".venv/bin/topoact").exists()
                           else "topoact", *args], capture_output=True, text=True)


def _main(capsys, *args) -> SimpleNamespace:
    """``topoact ARGS`` in this process (the same parser and commands, without a Python
    start-up and torch import per call): its exit code, stdout and stderr."""
    capsys.readouterr()
    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def test_help_lists_the_commands():
    result = _topoact("--help")
    assert result.returncode == 0
    for command in ("layers", "info", "check-config"):
        assert command in result.stdout


def test_layers_prints_names_and_shapes(capsys):
    result = _main(capsys, "layers", "small-cnn")
    assert result.returncode == 0
    assert "conv3" in result.stdout and "(128, 8, 8)" in result.stdout


def test_info_summarises_a_store(digits_store, capsys):
    result = _main(capsys, "info", str(digits_store), "--attrs")
    assert result.returncode == 0
    assert "kind 'images', complete True" in result.stdout
    assert "(1797, 32, 32, 3)" in result.stdout and '"classes"' in result.stdout


def test_info_is_quiet_about_snakemakes_timestamp_file(digits_store, tmp_path):
    """Snakemake leaves `.snakemake_timestamp` in directory outputs; zarr warns about
    any file it does not know, which `topoact info` must not show."""
    store = tmp_path / "images.zarr"
    shutil.copytree(digits_store, store)
    (store / ".snakemake_timestamp").touch()
    result = _topoact("info", str(store))
    assert result.returncode == 0 and "kind 'images'" in result.stdout
    assert "Warning" not in result.stderr and "snakemake_timestamp" not in result.stderr, (
        result.stderr)


def test_a_npy_file_that_is_not_numpy_data_is_named(tmp_path, capsys):
    fake = tmp_path / "cloud.npy"
    fake.write_text("x,y\n1,2\n")
    result = _main(capsys, "mapper", str(fake), "--eps", "1", "--out", str(tmp_path / "g.json"))
    assert result.returncode != 0
    assert f"{fake}: not a numpy array file" in result.stderr
    assert "allow_pickle" not in result.stderr


def test_mapper_and_epsilon_commands_on_a_npy_cloud(tmp_path, capsys):
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 0.2, (150, 4)) + 3, rng.normal(0, 0.2, (150, 4))])
    labels = np.repeat([0, 1], 150)
    np.save(tmp_path / "x.npy", points.astype(np.float32))
    np.save(tmp_path / "y.npy", labels)
    result = _main(capsys, "epsilon", str(tmp_path / "x.npy"), "--k", "5",
                      "--json", str(tmp_path / "eps.json"), "--plot", str(tmp_path / "eps.png"))
    assert result.returncode == 0, result.stderr
    eps = json.loads((tmp_path / "eps.json").read_text())["epsilon"]
    assert eps > 0 and (tmp_path / "eps.png").exists()
    out = tmp_path / "graph.json"
    result = _main(capsys, "mapper", str(tmp_path / "x.npy"), "--intervals", "10", "--overlap",
                      "0.3", "--eps", str(eps), "--labels", str(tmp_path / "y.npy"),
                      "--out", str(out))
    assert result.returncode == 0, result.stderr
    graph = json.loads(out.read_text())
    expected = mapper.build_mapper(points.astype(np.float32), 10, 0.3, eps, 5)
    assert len(graph["nodes"]) == expected.n_nodes > 0
    assert sorted(map(sorted, (n["membership"] for n in graph["nodes"]))) == \
        sorted(expected.members(i).tolist() for i in range(expected.n_nodes))
    assert {n["top_classes"][0] for n in graph["nodes"]} == {"0", "1"}
    result = _main(capsys, "mapper", str(tmp_path / "x.npy"), "--eps", "0", "--out", str(out))
    assert result.returncode != 0 and "ε must be a positive number" in result.stderr


def test_stability_command_finds_a_circles_loop(tmp_path, capsys):
    rng = np.random.default_rng(4)
    angle = rng.uniform(0, 2 * np.pi, 600)
    circle = np.stack([3 + np.cos(angle), np.sin(angle)], axis=1) + rng.normal(0, .05, (600, 2))
    np.save(tmp_path / "circle.npy", circle)
    args = [str(tmp_path / "circle.npy"), "--intervals", "10", "--overlap", "0.4",
            "--eps", "0.25", "--lens", "pca1", "--bootstrap", "30"]
    result = _main(capsys, "stability", *args, "--json", str(tmp_path / "s.json"),
                      "--plot", str(tmp_path / "s.png"))
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "s.json").read_text())
    loops = [f for f in record["features"] if f["kind"] == "loop"]
    assert len(loops) == 1 and loops[0]["significant"] and record["significant"]["loop"] == 1
    assert len(record["distances"]) == 30
    assert_drawn(tmp_path / "s.png")
    # The same graph and bootstrap as the library's.
    graph = mapper.build_mapper(circle, 10, 0.4, 0.25, lens=mapper.make_lens(circle, "pca1"))
    assert record["d_alpha"] == stability.graph_stability(graph, circle, 30).d_alpha
    assert "loop" in result.stdout and "significant" in result.stdout
    # ε far below the cloud's scale: no node; the command says why instead of d_α = nan.
    empty = _main(capsys, "stability", str(tmp_path / "circle.npy"), "--eps", "0.0001",
                  "--bootstrap", "5", "--json", str(tmp_path / "e.json"))
    assert empty.returncode == 0 and "nan" not in empty.stdout
    assert "0 nodes" in empty.stdout and "topoact epsilon" in empty.stdout
    assert json.loads((tmp_path / "e.json").read_text())["d_alpha"] is None
    for bad, message in ((["--bootstrap", "0"], "bootstrap B must be a positive integer"),
                         (["--confidence", "1"], "confidence α must be in (0, 1)")):
        result = _main(capsys, "stability", *args[:-2], *bad)
        assert result.returncode == 2 and message in result.stderr


@pytest.mark.parametrize("command", [["barcode"], ["epsilon"], ["mapper", "--eps", "1",
                                                                "--out", "g.json"],
                                     ["stability", "--eps", "1"]])
def test_a_cloud_with_nan_is_refused_naming_the_file_and_rows(tmp_path, capsys, command):
    cloud = np.random.default_rng(0).normal(size=(40, 3))
    cloud[[7, 30], 1] = np.nan
    path = tmp_path / "cloud.npy"
    np.save(path, cloud)
    result = _main(capsys, command[0], path, *command[1:])
    assert result.returncode == 2
    assert f"{path}: points contain 2 NaN/inf value(s) in 2 of 40 rows (first rows: [7, 30])" \
        in result.stderr


def test_mapper_and_stability_take_the_same_graph_arguments():
    parser = cli.build_parser()
    mapper_args = parser.parse_args(["mapper", "x.npy", "--eps", "1", "--out", "g.json"])
    stability_args = parser.parse_args(["stability", "x.npy", "--eps", "1"])
    shared = ("intervals", "overlap", "min_samples", "cover", "lens", "density_k", "device")
    assert {k: getattr(mapper_args, k) for k in shared} == {
        k: getattr(stability_args, k) for k in shared}
    assert mapper_args.intervals == 70  # the workflow's default
