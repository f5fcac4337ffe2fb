"""Layout and figures: deterministic positions, figures that are real PNGs."""

import os
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest

from conftest import assert_drawn
from topoact import plots
from topoact.layout import graph_layout, graph_layouts


def test_layout_is_deterministic_and_separates_components():
    edges = np.array([[0, 1], [1, 2], [2, 0], [3, 4], [4, 5], [5, 3]])
    a = graph_layout(6, edges, seed=1)
    b = graph_layout(6, edges, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    within = np.linalg.norm(a[0] - a[1]), np.linalg.norm(a[3] - a[4])
    between = np.linalg.norm(a[:3].mean(0) - a[3:].mean(0))
    assert between > max(within)


def test_layouts_side_by_side_equal_each_graph_laid_out_alone():
    rng = np.random.default_rng(0)
    sizes, edge_lists, weight_lists = [], [], []
    for n in (40, 3, 120, 1, 60):  # a single node and unequal sizes among them
        edges = rng.integers(0, n, size=(2 * n, 2))
        edges = np.unique(np.sort(edges[edges[:, 0] != edges[:, 1]], axis=1), axis=0)
        sizes.append(n), edge_lists.append(edges), weight_lists.append(rng.random(len(edges)))
    alone = [graph_layout(*graph) for graph in zip(sizes, edge_lists, weight_lists, strict=True)]
    for workers in (1, 2, 8):
        together = graph_layouts(sizes, edge_lists, weight_lists, workers=workers)
        for a, b in zip(alone, together, strict=True):
            np.testing.assert_array_equal(a, b)


def test_graph_figure_is_written(tmp_path):
    positions = graph_layout(3, np.array([[0, 1], [1, 2]]))
    path = tmp_path / "g.png"
    plots.plot_mapper_graph(positions, np.array([10, 5, 1]),
                            np.array([[5, 5, 0], [0, 5, 0], [0, 0, 1]]),
                            np.array([[0, 1], [1, 2]]), np.array([0.5, 0.2]), ["a", "b", "c"],
                            path, "test")
    assert_drawn(path)


def test_an_empty_figure_fails_the_figure_check(tmp_path):
    """assert_drawn, which the figure tests use, tells an empty frame from a drawn one."""
    figure, axes = plt.subplots(1, 3)
    figure.suptitle("three empty axes")
    axes[0].set_xlabel("x")
    figure.savefig(tmp_path / "empty.png")
    with pytest.raises(AssertionError, match="looks empty"):
        assert_drawn(tmp_path / "empty.png")
    axes[1].plot([0, 1], [0, 1])
    figure.savefig(tmp_path / "line.png")
    plt.close(figure)
    assert_drawn(tmp_path / "line.png")


def test_importing_the_figures_chooses_no_backend(tmp_path):
    """A notebook that imports the library keeps its own matplotlib backend: no module
    loads pyplot or sets one, and the figures still render (through Agg, by savefig)."""
    script = ("import sys, matplotlib\n"
              "import topoact.stability, topoact.epsilon, topoact.purity, topoact.plots\n"
              "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
              "assert matplotlib.rcParams._get_backend_or_none() is None, 'backend set'\n"
              "import numpy as np\n"
              "topoact.plots.plot_diagrams([np.array([[0.0, 1.0]]), np.zeros((0, 2))],"
              " sys.argv[1])\n")
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "p.png")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")
