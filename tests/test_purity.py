"""Purity measures on a hand-made graph, computed by hand."""

import numpy as np

from topoact import mapper, purity


def _graph(indptr, indices, n_points):
    n_nodes = len(indptr) - 1
    return mapper.MapperGraph(
        indptr=np.array(indptr), indices=np.array(indices), interval=np.zeros(n_nodes, int),
        cover=mapper.Cover(np.zeros(1), np.ones(1), "exact"), lens=np.zeros(n_points),
        edges=np.zeros((0, 2), int), intersection=np.zeros(0, int), jaccard=np.zeros(0))


def test_purity_by_hand():
    # Points 0..6 with classes a a b b c a c; point 6 lies in no node.
    labels = np.array([0, 0, 1, 1, 2, 0, 2])
    # Node 0 = {0,1,2} (classes a,b → α=1/2), node 1 = {2,3} (b → α=1),
    # node 2 = {3,4,5} (b,c,a → α=1/3).
    graph = _graph([0, 3, 5, 8], [0, 1, 2, 2, 3, 3, 4, 5], 7)
    counts = mapper.node_stats(graph, np.zeros((7, 1)), labels, 3).class_counts
    result = purity.mapper_purity(graph, counts, labels, 3)
    np.testing.assert_allclose(result.node, [1 / 2, 1, 1 / 3])
    # β: 0,1 → 1/2; 2 → (1/2+1)/2 = 3/4; 3 → (1+1/3)/2 = 2/3; 4,5 → 1/3; 6 → none.
    np.testing.assert_allclose(result.point[:6], [1 / 2, 1 / 2, 3 / 4, 2 / 3, 1 / 3, 1 / 3])
    assert np.isnan(result.point[6])
    # γ: a = mean(β0, β1, β5) = 4/9; b = mean(3/4, 2/3) = 17/24; c = β4 only = 1/3.
    np.testing.assert_allclose(result.class_purity, [4 / 9, 17 / 24, 1 / 3])
    assert result.class_points.tolist() == [3, 2, 2]
    assert result.class_uncovered.tolist() == [0, 0, 1] and result.uncovered == 1

    rows = purity.purity_rows(result, ["a", "b", "c"], {"layer": "conv3"})
    assert [r["class"] for r in rows] == ["a", "b", "c"]
    assert rows[2]["class_points_in_no_node"] == 1 and rows[0]["points_in_no_node"] == 1
    np.testing.assert_allclose(rows[0]["node_purity"], (1 / 2 + 1 + 1 / 3) / 3)
    np.testing.assert_allclose(rows[0]["point_purity"], np.mean([1/2, 1/2, 3/4, 2/3, 1/3, 1/3]))


def test_empty_graph_has_every_point_uncovered():
    labels = np.array([0, 1, 1])
    graph = _graph([0], [], 3)
    result = purity.mapper_purity(graph, np.zeros((0, 2), int), labels, 2)
    assert result.uncovered == 3 and np.isnan(result.class_purity).all()
    rows = purity.purity_rows(result, ["a", "b"], {})
    assert rows[1]["class_points_in_no_node"] == 2 and rows[0]["nodes"] == 0
