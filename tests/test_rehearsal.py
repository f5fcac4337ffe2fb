"""The papers' presets rehearsed end to end at their own shapes (config/rehearsal/):
generated data in the presets' formats and random weights through the `weights: PATH`
route, every stage the preset runs, then the outputs it promises checked.

One Snakemake run per preset (minutes on 2 cores), in a directory of its own.
"""

import json
import shutil

import numpy as np
import pytest

from conftest import ROOT, SNAKEMAKE, planned_outputs, snakemake
from topoact import cli, data, rehearsal, store

pytestmark = [pytest.mark.workflow, pytest.mark.rehearsal]

MIXED = ["mixed3a", "mixed3b", "mixed4a", "mixed4b", "mixed4c", "mixed4d", "mixed4e",
         "mixed5a", "mixed5b"]
RUN = "results/{kind}/imagenet-300/inception-v1/seed-0"
#: Random filters: the longest H1 bar stays below this many times the next.
NO_CIRCLE = 4


def rehearse(directory, preset: str, *more: str) -> list[str]:
    """Write the preset's rehearsal inputs into ``directory`` and run the preset there
    with its overlay (and ``more`` config files after it); returns the config files."""
    rehearsal.prepare(preset, directory / "rehearsal")
    configs = [str(ROOT / "config" / f"{preset}.yaml"),
               str(ROOT / "config" / "rehearsal" / f"{preset}.yaml"), *more]
    snakemake(directory, configs[0], "--configfile", *configs, timeout=3600)
    return configs


@pytest.fixture(scope="module")
def topoact_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("topoact")
    return directory, rehearse(directory, "topoact")


def test_the_topoact_rehearsal_builds_everything_the_preset_promises(topoact_run):
    """Nothing is left to do; every graph of the 9 mixed layers × 6 parameter sets is a
    complete store on the layer's 1,100 points at its own width, with its purity table,
    stability record and node images."""
    directory, configs = topoact_run
    assert planned_outputs(directory, configs[0], "--configfile", *configs) == {}
    widths = {"mixed3a": 256, "mixed4c": 512, "mixed5b": 1024}
    for layer in MIXED:
        cloud = store.read_activations(directory / RUN.format(kind="activations")
                                       / "random" / f"{layer}.zarr")
        assert cloud.points.shape[0] == 1100
        if layer in widths:
            assert cloud.points.shape[1] == widths[layer]
        for overlap in (20, 30, 50):
            for eps in ("adaptive", "fixed"):
                name = f"overlap-{overlap}-epsilon-{eps}"
                base = directory / RUN.format(kind="mapper") / "random" / name / layer
                graph, stats, _ = store.read_graph(f"{base}.zarr")
                assert graph.n_points == 1100 and graph.n_nodes >= 1
                assert stats.mean_activation.shape[1] == cloud.points.shape[1]
                assert (base.parent / f"{layer}.purity.tsv").stat().st_size > 0
                record = directory / RUN.format(kind="stability") / "random" / name
                assert json.loads((record / f"{layer}.json").read_text())["bootstrap"] == 100


def test_googlenet_profiles_through_its_concatenations(topoact_run):
    """The profile stage, on in the preset: 20 held-out images, synapses into the nine
    mixed blocks' concatenations."""
    directory, _ = topoact_run
    tables, attrs = store.read_profiles(directory / RUN.format(kind="profiles")
                                        / "channel/profiles.zarr")
    assert len(tables["image"]) == 20
    joins = {layer["index"] for layer in attrs["layers"] if layer["kind"] == "concat"}
    assert len(joins) == 9 and joins <= set(tables["synapses_target_layer"].tolist())


def test_random_googlenet_filters_show_no_dominant_circle(topoact_run):
    """The weight-space stage on GoogLeNet's conv1 with given (random) weights: in no
    X(k, p) of the sweep is the longest H1 bar 4× the next (the known circles give
    5–80×, docs/weights.md; a 15-filter core shows up to 2.6× by chance)."""
    directory, _ = topoact_run
    summaries = list((directory / "results/weights/inception-v1/conv1/final").glob(
        "k-*-keep-*/summary.json"))
    assert len(summaries) == 4
    for path in summaries:
        summary = json.loads(path.read_text())
        assert summary["h1"]["bars"] >= 2 and summary["h1"]["ratio"] < NO_CIRCLE, path


@pytest.mark.browser
def test_the_explorer_opens_with_all_nine_mixed_layers_and_the_report_builds(topoact_run):
    """In Chromium: the page lists the nine mixed layers and draws a graph of each; the
    Snakemake report builds."""
    from test_explorer import CHROMIUM, open_page

    if not shutil.which(CHROMIUM) and not (ROOT / CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    directory, configs = topoact_run
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        page, problems, _ = open_page(browser, directory / "results/explorer")
        layers = page.evaluate("[...new Set(window.TOPOACT_MANIFEST.graphs.map(g => g.layer))]")
        # the nine mixed layers' graphs, and the weight-space graphs of GoogLeNet's conv1
        assert sorted(layers) == ["conv1", *MIXED]
        for layer in MIXED:
            page.select_option("#layer-select", layer)
            page.wait_for_function(
                f"document.getElementById('graph').getAttribute('data-drawn')"
                f".startsWith('{layer}|')")
        assert problems == []
        browser.close()
    report = directory / "report.html"
    snakemake(directory, configs[0], "--configfile", *configs, "--report", str(report))
    assert report.stat().st_size > 100_000


@pytest.fixture(scope="module")
def generalization_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("generalization")
    return directory, rehearse(directory, "generalization")


def test_the_generalization_rehearsal_runs_all_four_networks(generalization_run):
    """Nothing is left to do; each network's last layer (1,000 wide) has its top-ℓ2 cloud
    of the 120 Imagenette images, its three graphs and its diagrams; AlexNet's
    11×11 and ResNet-18's 7×7 random filters show no dominant circle."""
    directory, configs = generalization_run
    assert planned_outputs(directory, configs[0], "--configfile", *configs) == {}
    runs = {"resnet18": ("imagenette", "fc"), "inception-v1": ("imagenette", "fc"),
            "inception-v3": ("imagenette-299", "fc"), "alexnet": ("imagenette", "fc8")}
    for model, (dataset, layer) in runs.items():
        base = directory / f"results/activations/{dataset}/{model}/seed-0/top-l2"
        assert store.read_activations(base / f"{layer}.zarr").points.shape == (120, 1000)
        graphs = list((directory / f"results/mapper/{dataset}/{model}/seed-0/top-l2").glob(
            f"*/{layer}.zarr"))
        assert len(graphs) == 3
        homology = directory / f"results/homology/{dataset}/{model}"
        assert list(homology.rglob("*.npz")), homology
    for model in ("alexnet", "resnet18"):
        summaries = list((directory / f"results/weights/{model}/conv1/final").glob(
            "k-*-keep-*/summary.json"))
        assert len(summaries) == 4
        for path in summaries:
            assert json.loads(path.read_text())["h1"]["ratio"] < NO_CIRCLE, path


def test_rehearsal_inputs_are_written_once_in_the_presets_formats(tmp_path):
    made = rehearsal.prepare("generalization", tmp_path)
    assert (tmp_path / "imagenette/imagenette2-320/val/n03888257").is_dir()
    assert sorted(p.name for p in made if p.suffix == ".pt") == [
        "alexnet-1000.pt", "googlenet-1000.pt", "inception_v3-1000.pt", "resnet18-1000.pt"]
    before = {p: p.stat().st_mtime_ns for p in made if p.is_file()}
    rehearsal.prepare("generalization", tmp_path)
    assert {p: p.stat().st_mtime_ns for p in before} == before
    with pytest.raises(ValueError, match="no rehearsal for preset 'full'"):
        rehearsal.prepare("full", tmp_path)
    assert cli.main(["rehearse", "full", "--root", str(tmp_path)]) == 2
    assert cli.main(["rehearse", "generalization", "--root", str(tmp_path)]) == 0
    assert np.asarray(rehearsal.smooth_image(np.random.default_rng(0), 32)).std() > 10
    # CIFAR-10's python batches, read by the loader the preset uses: 10 classes in turn.
    rehearsal.prepare("purvine", tmp_path)
    cifar = data.load_dataset("cifar10", root=str(tmp_path / "cifar10"))
    assert cifar.splits == {"train": (0, 500), "test": (500, 600)}
    assert cifar.classes == list(rehearsal.CIFAR10_CLASSES)
    images, labels = next(cifar.batches(600))
    assert images.shape == (600, 32, 32, 3) and np.bincount(labels).tolist() == [60] * 10
    assert SNAKEMAKE  # the runs above use the checkout's Snakemake
