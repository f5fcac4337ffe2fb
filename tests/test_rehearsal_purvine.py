"""The Purvine preset rehearsed end to end (config/rehearsal/purvine.yaml), cut for CI.

A file of its own, so that pytest-xdist (``--dist loadfile``) runs it on the other worker
than the TopoAct and generalization rehearsals of test_rehearsal.py.
"""

import numpy as np
import pytest
from test_rehearsal import rehearse

from conftest import planned_outputs
from topoact import store

pytestmark = [pytest.mark.workflow, pytest.mark.rehearsal]

#: The Purvine rehearsal's cut for CI: its 2,801 jobs (17 layers × 7 samplings × 4 noise
#: levels, 5 seeds) take about 5 s each here, mostly torch's import: ~2 h on 2 cores
#: (bench/RESULTS.md). CI keeps every sampling, stage and test of the preset on three of
#: its layers (the first, a middle and the last), one noise level, one mapper job per
#: (sampling, layer) (the same graphs, fewer processes), one profiled image per class.
PURVINE_LAYERS = ["conv1", "conv9", "conv17"]
PURVINE_CI = f"""
analyses:
  - {{dataset: cifar10, model: resnet18-cifar10, seeds: [0], layers: {PURVINE_LAYERS}}}
activations: {{noise_sigmas: [1.0]}}
mapper: {{jobs: grid}}
profiles: {{images_per_class: 1}}
"""
PURVINE_SAMPLINGS = ["random", "full", "top-l2", "foreground-top1", "foreground-top5",
                     "background-top1", "background-top5"]


@pytest.fixture(scope="module")
def purvine_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("purvine")
    cut = directory / "ci-cut.yaml"
    cut.write_text(PURVINE_CI)
    return directory, rehearse(directory, "purvine", str(cut))


def test_the_purvine_rehearsal_runs_every_sampling_stage_and_test(purvine_run):
    """Nothing is left to do. On CIFAR-10's python batches: five ResNet-18s trained;
    clouds of the seven samplings (grabCut foreground and background) clean and noisy;
    the mapper grid of the six mapper samplings with purity, stability (B = 100) and the
    noise purity; persistence diagrams of the five seeds, their sliced Wasserstein
    distances, the specificity and sensitivity tests; the profiles."""
    directory, configs = purvine_run
    assert planned_outputs(directory, configs[0], "--configfile", *configs) == {}
    results = directory / "results"
    assert len(list((results / "models/resnet18-cifar10").glob("seed-*.pt"))) == 5
    for dataset, samplings in (("cifar10", PURVINE_SAMPLINGS),
                               ("cifar10-noise-1", PURVINE_SAMPLINGS[:1] + PURVINE_SAMPLINGS[2:])):
        # The noisy inputs go through the mapper samplings (all but full).
        run = results / f"activations/{dataset}/resnet18-cifar10/seed-0"
        for sampling in samplings:
            for layer in PURVINE_LAYERS:
                points = store.read_activations(run / sampling / f"{layer}.zarr").points
                # 100 test images: one point each or more (top-5, every position of full)
                assert points.shape[0] >= (101 if sampling == "full" else 100)
    graphs = list((results / "mapper/cifar10/resnet18-cifar10/seed-0").glob("*/*/*.zarr"))
    assert len(graphs) == 6 * 3 * 3  # samplings × overlaps × layers
    nodes: dict[str, int] = {}
    for graph in graphs:
        built = store.read_graph(graph)[0]
        sampling = graph.parent.parent.name
        # A graph of every cloud: 100 test images, five points each for the top-5 samplings.
        assert built.n_points == (500 if sampling.endswith("top5") else 100), graph
        assert graph.with_suffix(".purity.tsv").stat().st_size > 0
        nodes[sampling] = nodes.get(sampling, 0) + built.n_nodes
    # 100 points over 70 intervals leave some graphs empty (the preset has 10,000), but
    # every sampling has nodes.
    assert len(nodes) == 6 and min(nodes.values()) > 0, nodes
    purity = results / "purity/cifar10/resnet18-cifar10/seed-0"
    assert (purity / "noise-purity.tsv").read_text().count("\n") > 1
    homology = results / "homology/cifar10/resnet18-cifar10"
    for seed in range(5):
        for layer in PURVINE_LAYERS:
            with np.load(homology / f"seed-{seed}/diagrams/{layer}.npz") as diagrams:
                assert len(diagrams.files) > 0
    rows = (homology / "specificity.tsv").read_text().splitlines()
    assert len(rows) == 1 + 4 * 2 * 3  # seed pairs (0, b) × dimensions × layers
    assert (homology / "sensitivity.tsv").read_text().count("\n") > 1
    tables, _ = store.read_profiles(results / "profiles/cifar10/resnet18-cifar10/seed-0"
                                    / "channel/profiles.zarr")
    assert len(tables["image"]) == 10  # one held-out image per class
