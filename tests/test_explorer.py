"""The explorer page in a real headless Chromium (Debian's, driven by Playwright).

The explorer is built by the library from real stages on small data: the digits test
split with class names as words (so partial search means something), the tiny trained
model, three layers, two parameter sets, node and example images rendered in 2 steps.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import sparse

from conftest import ROOT
from topoact import (
    activations,
    explorer,
    mapper,
    models,
    purity,
    store,
)
from topoact.explorer import profile_pages
from topoact.explorer.pages import render_page
from topoact.featurevis import render
from topoact.graph import MapperGraph, NodeStats
from topoact.profiles.topology import ImageGrid, MetricSettings
from topoact.steps.activations import extract_activations
from topoact.steps.examples import select_layer_examples
from topoact.steps.featurevis import render_examples, render_graph_nodes
from topoact.steps.mapper import mapper_for_store
from topoact.steps.profiles import similarity_for_store, topology_for_store
from topoact.steps.profiling import profile_store
from topoact.steps.purity import purity_table_for_graph, read_purity_record
from topoact.steps.stability import stability_for_store
from topoact.steps.weights import core_for_points
from topoact.weights import filters

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TOPOACT_TEST_ARTIFACTS", ROOT / "test-artifacts"))
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
LAYERS = ["conv1", "conv3", "fc1"]
GRIDS = {"overlap-30-epsilon-fixed": 0.3, "overlap-50-epsilon-fixed": 0.5}
EPS = {"conv1": 1.5, "conv3": 3.0, "fc1": 3.0}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def built(tmp_path_factory, trained_model, digits_store):
    """Stores, graphs, renders and the explorer of three layers × two parameter sets."""
    work = tmp_path_factory.mktemp("explorer")
    source = store.open_store(digits_store, "images")
    images, labels = source["images"][1437:], source["labels"][1437:]
    words = work / "words.zarr"
    store.write_images(words, [(images, labels)], count=len(images), image_shape=images.shape[1:],
                       classes=WORDS, splits={"test": (0, len(images))}, source="test",
                       attrs={})
    model, _ = models.load_model(trained_model)
    sources = []
    for layer in LAYERS:
        cloud = work / f"{layer}.zarr"
        settings = activations.ExtractionSettings(sampling="top-l2", seed=0, split="all",
                                                  batch_size=128, chunk_bytes=1 << 20)
        extract_activations(model, layer, words, cloud, settings,
                            torch.device("cpu"), {"layer": layer}, progress=False)
        render_settings = render.RenderSettings(steps=2, batch_size=128)
        graph_paths = {}
        for name, overlap in GRIDS.items():
            graph_paths[name] = work / name / f"{layer}.zarr"
            mapper_for_store(cloud, graph_paths[name], work / name / f"{layer}.json",
                             work / name / f"{layer}.km.json", intervals=10,
                             overlap=overlap, eps=EPS[layer], min_samples=3,
                             cover="exact", attrs={"name": name, "layer": layer},
                             progress=False)
            render_graph_nodes(graph_paths[name], trained_model, layer,
                               work / name / layer, work / name / f"{layer}.png",
                               render_settings, device="cpu", progress=False)
        selection = work / "examples" / f"{layer}.json"
        select_layer_examples({k: str(v) for k, v in graph_paths.items()}, cloud,
                              selection, top=3, per_class=2)
        render_examples(cloud, words, trained_model, layer,
                        work / "examples" / layer, render_settings,
                        selection_path=selection, device="cpu", progress=False)
        for name in GRIDS:
            _, record = stability_for_store(graph_paths[name], cloud, bootstrap=20,
                                            confidence=0.9, progress=False)
            store.write_json(work / name / f"{layer}.stability.json", record)
            sources.append(explorer.GraphSource(
                dataset="words", model="digits-cnn", seed=0, sampling="top-l2", layer=layer,
                parameters=name, graph=str(graph_paths[name]), points=str(cloud),
                node_images=str(work / name / layer),
                examples=(str(selection), str(work / "examples" / layer)),
                stability=str(work / name / f"{layer}.stability.json")))
    out = work / "site"
    explorer.build_explorer(sources, out, layer_order={"digits-cnn": LAYERS}, progress=False)
    return out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


def open_page(browser, site: Path, enforce_csp: bool = False):
    """Open the page; collect console errors, page errors, dialogs and network requests.

    The page's Content-Security-Policy forbids eval, which Playwright's evaluate needs, so
    tests bypass it; the XSS test thereby checks the code itself, not the CSP behind it.
    """
    page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=not enforce_csp)
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((site / "index.html").as_uri())
    if enforce_csp:
        page.locator("#viewport .glyph").first.wait_for()
    else:
        page.wait_for_function("window.explorerTiming && window.explorerTiming.draws > 0")
    return page, problems, requests


def test_page_runs_under_its_own_content_security_policy(built, browser):
    page, problems, requests = open_page(browser, built, enforce_csp=True)
    assert page.locator("#viewport .glyph").count() > 0
    assert "conv1" in page.locator("#graph-title").text_content()
    assert problems == []
    assert all(url.startswith("file://") for url in requests), requests


def graph_data(page, layer: str, parameters: str) -> dict:
    return page.evaluate(
        """([layer, parameters]) => {
             const entry = window.TOPOACT_MANIFEST.graphs.find(
               g => g.layer === layer && g.parameters === parameters);
             return window.TOPOACT_GRAPHS[entry.id];
           }""", [layer, parameters])


def wait_drawn(page, layer: str, parameters: str, panels: int = 1) -> None:
    page.wait_for_function(
        f"document.getElementById('graph').getAttribute('data-drawn') === "
        f"'{layer}|{parameters}|{panels}'")


def mutual_best(links: list, budget: int = 100) -> list:
    """The links that are the strongest (by Jaccard, the first of equals) of both their
    nodes, the ``budget`` strongest of them: what the page draws across layers by default."""
    best_a: dict = {}
    best_b: dict = {}
    for k, (s, t, _, j) in enumerate(links):
        if s not in best_a or j > links[best_a[s]][3]:
            best_a[s] = k
        if t not in best_b or j > links[best_b[t]][3]:
            best_b[t] = k
    best = [link for k, link in enumerate(links) if best_a[link[0]] == k and best_b[link[1]] == k]
    return sorted(best, key=lambda link: (-link[3], -link[2]))[:budget]


def strong_count(page, pair: int | None = None) -> int:
    where = "" if pair is None else f"[data-pair='{pair}']"
    return page.locator(f"#viewport .crosslink{where}").count()


def faded_count(page) -> int:
    return page.evaluate("[...document.querySelectorAll('#viewport .crosslinks-faded')]"
                         ".reduce((n, p) => n + Number(p.getAttribute('data-links')), 0)")


def set_input(page, selector: str, value: str) -> None:
    page.locator(selector).fill(value)
    page.locator(selector).dispatch_event("change")
    page.wait_for_timeout(150)


def test_page_loads_offline_and_redraws_on_layer_and_parameter_change(built, browser):
    page, problems, requests = open_page(browser, built)
    wait_drawn(page, "conv1", "overlap-30-epsilon-fixed")
    first = graph_data(page, "conv1", "overlap-30-epsilon-fixed")
    assert page.locator("#viewport .glyph").count() == len(first["nodes"]) > 0
    # Lazy: of the graphs' data files, only the shown graph's has been loaded, and no image.
    loaded = [url for url in requests if "/data/graph-" in url or "/images/" in url]
    assert len(loaded) == 1 and loaded[0].endswith(".js"), loaded
    page.select_option("#layer-select", "fc1")
    wait_drawn(page, "fc1", "overlap-30-epsilon-fixed")
    fc1 = graph_data(page, "fc1", "overlap-30-epsilon-fixed")
    assert page.locator("#viewport .glyph").count() == len(fc1["nodes"])
    assert "fc1" in page.locator("#graph-title").text_content()
    page.select_option("#parameters-select", "overlap-50-epsilon-fixed")
    wait_drawn(page, "fc1", "overlap-50-epsilon-fixed")
    wider = graph_data(page, "fc1", "overlap-50-epsilon-fixed")
    assert page.locator("#viewport .glyph").count() == len(wider["nodes"])
    assert "overlap-50-epsilon-fixed" in page.locator("#graph-title").text_content()
    # The purity summary of the shown graph sits beside it.
    assert "node purity" in page.locator("#purity-table").text_content()
    # Jaccard threshold: edges below it disappear.
    page.locator("#jaccard-slider").fill("0.5")
    page.wait_for_timeout(100)
    kept = sum(1 for link in wider["links"] if link[2] >= 0.5)
    assert page.locator("#viewport .edge").count() == kept
    for glyph in ("pie", "image"):
        page.select_option("#glyph-select", glyph)
        page.wait_for_timeout(100)
        assert page.locator("#viewport .glyph").count() == len(wider["nodes"])
    assert page.locator("#viewport image").count() == len(wider["nodes"])
    # Image glyphs are never tiny (≥ 30 of the panel's 1,000 units), and grow on hover.
    sides = page.locator("#viewport image").evaluate_all(
        "images => images.map(i => Number(i.getAttribute('width')))")
    assert min(sides) >= 30
    first = page.locator("#viewport .glyph").first
    before = first.locator("image").bounding_box()["width"]
    first.locator(".node").hover(force=True)
    page.wait_for_timeout(250)
    assert page.locator("#viewport .glyph:hover image").bounding_box()["width"] > 2 * before
    assert problems == []
    assert all(url.startswith("file://") for url in requests), requests


def test_hover_shows_size_and_click_shows_classes_and_images(built, browser):
    page, problems, _ = open_page(browser, built)
    data = graph_data(page, "conv1", "overlap-30-epsilon-fixed")
    node = max(data["nodes"], key=lambda n: n["size"])
    glyph = page.locator(f"#viewport .glyph[data-node='{node['id']}'] .node")
    glyph.hover(force=True)
    tooltip = page.locator("#tooltip")
    assert tooltip.is_visible()
    assert f"size {node['size']}" in tooltip.text_content()
    page.mouse.move(3, 890)  # off the node (the graph area's corner): the tooltip goes
    page.wait_for_function("document.getElementById('tooltip').hidden")
    glyph.click(force=True)
    tops = page.locator("#top-classes li").all_text_contents()
    assert len(tops) == len(node["top"])
    for text, (cls, percent, count) in zip(tops, node["top"], strict=True):
        assert text.startswith(data["classes"][cls])
        assert f"{percent:.1f}%" in text and f"({count})" in text
    expected = sum(len(items) for _, items in node["examples"])
    assert expected > 0
    for selector in ("#data-examples img", "#activation-images img", "#average-image img"):
        images = page.locator(selector)
        assert images.count() == (1 if "average" in selector else expected)
        page.wait_for_function(f"[...document.querySelectorAll('{selector}')]"
                               ".every(i => i.complete && i.naturalWidth > 0)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explorer.png"))
    assert problems == []


def test_partial_class_search_highlights_exactly_the_matching_nodes(built, browser):
    page, problems, _ = open_page(browser, built)
    data = graph_data(page, "conv1", "overlap-30-epsilon-fixed")
    page.locator("#class-search").fill("EV")  # case-insensitive, partial: "seven"
    suggestions = page.locator("#suggestions li").all_text_contents()
    assert suggestions == ["seven"]
    page.locator("#suggestions li").first.dispatch_event("mousedown")
    page.wait_for_timeout(150)
    seven = WORDS.index("seven")
    expected = {n["id"] for n in data["nodes"] if any(c == seven for c, _, _ in n["top"])}
    assert expected, "no node has seven among its top classes: nothing tested"
    highlighted = {int(i) for i in page.locator("#viewport .glyph.highlight").evaluate_all(
        "gs => gs.map(g => g.getAttribute('data-node'))")}
    assert highlighted == expected
    assert page.locator("#viewport .glyph.dim").count() == len(data["nodes"]) - len(expected)
    # A second class from the alphabetical directory widens the highlight.
    page.click("#directory-button")
    names = page.locator("#directory label").all_text_contents()
    assert [n.strip() for n in names] == sorted(n.strip() for n in names)
    page.locator("#directory label", has_text="zero").locator("input").check()
    page.wait_for_timeout(150)
    zero = WORDS.index("zero")
    expected |= {n["id"] for n in data["nodes"] if any(c == zero for c, _, _ in n["top"])}
    assert page.locator("#viewport .glyph.highlight").count() == len(expected)
    assert problems == []


def test_page_draws_each_graph_at_its_stored_layout(built, browser):
    page, problems, _ = open_page(browser, built)
    data = graph_data(page, "conv1", "overlap-30-epsilon-fixed")
    _, stats, _ = store.read_graph(built.parent / "overlap-30-epsilon-fixed" / "conv1.zarr")
    assert stats.position is not None and len(stats.position) == len(data["nodes"]) > 3
    np.testing.assert_allclose([[n["x"], n["y"]] for n in data["nodes"]], stats.position,
                               atol=1e-5)  # the layout the graph's PNG is drawn at
    assert problems == []


def test_significant_features_line_and_their_nodes_on_demand(built, browser):
    page, problems, _ = open_page(browser, built)
    record = store.read_json(built.parent / "overlap-30-epsilon-fixed" / "conv1.stability.json")
    significant = [f for f in record["features"] if f["significant"]]
    assert significant, "no significant feature to show (a component always is)"
    line = page.locator("#stability-line").text_content()
    assert line.startswith("significant features: ") and f"of {record['n_features']}" in line
    assert f"B = {record['bootstrap']}" in line
    buttons = page.locator("#feature-buttons button")
    assert buttons.count() == len(significant)
    # The feature with the fewest nodes, so that highlighting is a real selection.
    chosen = min(range(len(significant)), key=lambda i: len(significant[i]["nodes"]))
    buttons.nth(chosen).click()
    page.wait_for_function("document.querySelectorAll('#viewport .glyph.feature').length > 0")
    marked = page.locator("#viewport .glyph.feature")
    assert marked.count() == len(significant[chosen]["nodes"])
    ids = sorted(int(g.get_attribute("data-node")) for g in marked.all())
    assert ids == sorted(significant[chosen]["nodes"])
    total = page.locator("#viewport .glyph").count()
    assert page.locator("#viewport .glyph.dim").count() == total - len(ids)
    buttons.nth(chosen).click()  # again: the highlight goes
    page.wait_for_function("document.querySelectorAll('#viewport .glyph.feature').length == 0")
    assert page.locator("#viewport .glyph.dim").count() == 0
    assert problems == []


def test_dragging_moves_the_picture_as_one_layer_then_the_view(built, browser):
    """While dragging, the svg element is translated (no redraw of its shapes); on
    release the view takes the move: a node ends where the pointer took it."""
    page, problems, _ = open_page(browser, built)
    wait_drawn(page, "conv1", "overlap-30-epsilon-fixed")
    glyph = page.locator("#viewport .glyph").first
    before = glyph.bounding_box()
    area = page.locator("#graph-area").bounding_box()
    # The frame's corner is empty: the drag starts on the background, not on a node.
    x, y = area["x"] + 8, area["y"] + area["height"] - 8
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y - 40, steps=5)
    assert page.evaluate("document.getElementById('graph').style.transform") == \
        "translate(60px, -40px)"
    assert page.evaluate("window.explorer.state.view") == {"x": 0, "y": 0, "k": 1}
    page.mouse.up()
    assert page.evaluate("document.getElementById('graph').style.transform") == ""
    after = glyph.bounding_box()
    assert after["x"] - before["x"] == pytest.approx(60, abs=1)
    assert after["y"] - before["y"] == pytest.approx(-40, abs=1)
    assert problems == []


def test_multilayer_mode_shows_three_layers_with_links(built, browser):
    page, problems, _ = open_page(browser, built)
    page.select_option("#layer-select", "conv3")
    wait_drawn(page, "conv3", "overlap-30-epsilon-fixed")
    page.check("#multilayer-toggle")
    wait_drawn(page, "conv3", "overlap-30-epsilon-fixed", panels=3)
    panels = page.locator("#viewport .layer-panel")
    assert panels.count() == 3
    assert panels.evaluate_all("ps => ps.map(p => p.getAttribute('data-layer'))") == LAYERS
    # The three panels share the graph area's whole height (not a band a third of it).
    area = page.locator("#graph-area").bounding_box()
    frames = [page.locator(f"#viewport .layer-panel[data-layer='{la}'] .panel-frame")
              .bounding_box() for la in LAYERS]
    assert min(f["height"] for f in frames) > 0.85 * area["height"]
    page.check("#crosslinks-toggle")
    page.wait_for_timeout(150)
    conv1 = graph_data(page, "conv1", "overlap-30-epsilon-fixed")
    conv3 = graph_data(page, "conv3", "overlap-30-epsilon-fixed")
    pairs = [conv1["next_layer_links"], conv3["next_layer_links"]]
    links = pairs[0] + pairs[1]
    assert len(links) > 0
    # By default: each node's strongest link where it is also its partner's, the rest
    # faded into one path per pair of layers.
    best = [mutual_best(pair) for pair in pairs]
    assert 0 < strong_count(page) == sum(len(b) for b in best) < len(links)
    assert faded_count(page) == len(links) - strong_count(page)
    # Every link at Jaccard ≥ 0; then those sharing at least the median count.
    set_input(page, "#crosslinks-jaccard", "0")
    assert strong_count(page) == len(links) and faded_count(page) == 0
    least = sorted(shared for _, _, shared, _ in links)[len(links) // 2]
    set_input(page, "#crosslinks-min", str(least))
    assert strong_count(page) == sum(s >= least for _, _, s, _ in links)
    set_input(page, "#crosslinks-min", "1")
    set_input(page, "#crosslinks-jaccard", "")
    # A selected node's links, traced through the next layer; only them when asked.
    page.check("#crosslinks-selected")
    assert strong_count(page) == 0 == faded_count(page)
    chosen = pairs[0][0][0]
    page.locator(f"#viewport .glyph[data-layer='conv1'][data-node='{chosen}'] .node").click(
        force=True)
    page.wait_for_timeout(150)
    reached = {t for s, t, _, _ in pairs[0] if s == chosen}
    onward = sum(s in reached for s, _, _, _ in pairs[1])
    assert strong_count(page, pair=0) == len(reached) > 0
    assert strong_count(page, pair=1) == onward
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "explorer-multilayer.png"))
    assert problems == []


def synthetic_site(directory: Path, n_nodes: int, classes: list[str], layer: str) -> Path:
    """The explorer of one synthetic graph (see :func:`synthetic_graph`), layer ``layer``."""
    graph = directory / "graph.zarr"
    cloud = synthetic_graph(graph, n_nodes, classes)
    site = directory / "site"
    explorer.build_explorer([explorer.GraphSource(
        dataset="x", model="m", seed=0, sampling="random", layer=layer,
        parameters="overlap-30-epsilon-fixed", graph=str(graph), points=str(cloud))],
        site, progress=False)
    return site


def write_points(cloud: Path, labels: np.ndarray, classes: list[str]) -> Path:
    """An all-zero activations store of one point per image (point k from image k) with
    ``labels``; returns its path."""
    n_points = len(labels)
    with store.atomic_group(cloud, "activations", {"classes": classes}) as group:
        writer = store.ActivationWriter(group, n_points, 2)
        writer.append(np.zeros((n_points, 2), np.float32), np.arange(n_points),
                      np.zeros((n_points, 2)), labels)
        writer.close()
    return cloud


def synthetic_graph(path: Path, n_nodes: int, classes: list[str], seed: int = 0) -> Path:
    """A graph store of ``n_nodes`` two-point nodes in a long chain, and its (all-zero)
    activations store with random labels; returns the activations store."""
    rng = np.random.default_rng(seed)
    n_points = n_nodes + 1
    indptr = np.arange(0, 2 * n_nodes + 1, 2)
    indices = np.stack([np.arange(n_nodes), np.arange(1, n_nodes + 1)], 1).ravel()
    edges = np.stack([np.arange(n_nodes - 1), np.arange(1, n_nodes)], 1)
    labels = rng.integers(0, len(classes), n_points)
    counts = np.zeros((n_nodes, len(classes)), np.int64)
    np.add.at(counts, (np.repeat(np.arange(n_nodes), 2), labels[indices]), 1)
    lens = rng.random(n_points).astype(np.float32)
    graph = MapperGraph(indptr=indptr, indices=indices, interval=np.zeros(n_nodes, np.int64),
                        cover=mapper.Cover(np.zeros(1), np.ones(1), "exact"), lens=lens,
                        edges=edges, intersection=np.ones(len(edges), np.int64),
                        jaccard=np.full(len(edges), 1 / 3), params={"eps": 1.0})
    stats = NodeStats(size=np.full(n_nodes, 2), mean_lens=rng.random(n_nodes),
                      class_counts=counts, mean_activation=np.zeros((n_nodes, 2), np.float32),
                      position=rng.random((n_nodes, 2)))
    store.write_graph(path, graph, stats, {"classes": classes})
    return write_points(path.with_name(path.stem + "-points.zarr"), labels, classes)


def write_layout_graph(path: Path, position: np.ndarray, classes: list[str]) -> Path:
    """A graph store whose node k holds points 2k and 2k + 1 (images 2k and 2k + 1) in a
    chain, drawn at ``position``, and its activations store; returns the latter."""
    n_nodes, n_points = len(position), 2 * len(position)
    labels = np.arange(n_points) % len(classes)
    counts = np.zeros((n_nodes, len(classes)), np.int64)
    np.add.at(counts, (np.repeat(np.arange(n_nodes), 2), labels), 1)
    edges = np.stack([np.arange(n_nodes - 1), np.arange(1, n_nodes)], 1)
    graph = MapperGraph(indptr=np.arange(0, n_points + 1, 2), indices=np.arange(n_points),
                        interval=np.zeros(n_nodes, np.int64),
                        cover=mapper.Cover(np.zeros(1), np.ones(1), "exact"),
                        lens=np.zeros(n_points, np.float32), edges=edges,
                        intersection=np.zeros(len(edges), np.int64),
                        jaccard=np.zeros(len(edges)), params={"eps": 1.0})
    stats = NodeStats(size=np.full(n_nodes, 2), mean_lens=np.zeros(n_nodes),
                      class_counts=counts, mean_activation=np.zeros((n_nodes, 2), np.float32),
                      position=position)
    store.write_graph(path, graph, stats, {"classes": classes})
    return write_points(path.with_name(path.stem + "-points.zarr"), labels, classes)


def test_multilayer_columns_are_turned_to_match_through_their_links(tmp_path, browser):
    """Three layers with the same nodes (each node's images the same in every layer): the
    second's stored layout is the first's turned by 180°, the third's the second's
    mirrored. Aligned, every link runs level (equal heights at both ends); not aligned,
    they cross."""
    rng = np.random.default_rng(3)
    first = np.vstack([[0, 0], [1, 1], rng.random((38, 2))])  # spans [0, 1] on both axes
    layouts = {"l1": first, "l2": 1 - first, "l3": np.c_[first[:, 0], 1 - first[:, 1]]}
    sources = []
    for layer, position in layouts.items():
        graph = tmp_path / f"{layer}.zarr"
        points = write_layout_graph(graph, position, ["a", "b"])
        sources.append(explorer.GraphSource(
            dataset="x", model="m", seed=0, sampling="random", layer=layer,
            parameters="overlap-30-epsilon-fixed", graph=str(graph), points=str(points)))
    site = tmp_path / "site"
    explorer.build_explorer(sources, site, layer_order={"m": list(layouts)}, progress=False)
    page, problems, _ = open_page(browser, site)
    page.check("#multilayer-toggle")
    wait_drawn(page, "l1", "overlap-30-epsilon-fixed", panels=3)
    page.check("#crosslinks-toggle")
    set_input(page, "#crosslinks-jaccard", "0")
    heights = "[...document.querySelectorAll('#viewport .crosslink')].map(l => " \
              "[Number(l.getAttribute('y1')), Number(l.getAttribute('y2'))])"
    aligned = np.array(page.evaluate(heights))
    assert len(aligned) == 2 * 40  # node k to node k, twice
    # By default the mutual-best links, at most linkBudget of them per pair of layers.
    set_input(page, "#crosslinks-jaccard", "")
    assert strong_count(page, pair=0) == 40 == strong_count(page, pair=1)
    page.evaluate("window.explorer.state.linkBudget = 7; window.explorer.draw()")
    page.wait_for_timeout(150)
    assert strong_count(page, pair=0) == 7 and faded_count(page) == 2 * 33
    np.testing.assert_allclose(aligned[:, 0], aligned[:, 1], atol=1e-6)
    set_input(page, "#crosslinks-jaccard", "0")
    page.uncheck("#align-toggle")
    page.wait_for_timeout(150)
    stored = np.array(page.evaluate(heights))
    assert np.abs(stored[:, 0] - stored[:, 1]).mean() > 100
    assert problems == []


def test_page_opens_on_the_graphs_with_images_and_says_which_key_renders_the_others(
        tmp_path, browser):
    """featurevis.graphs: opening — the page opens on the parameter set with images (not
    the first by name); a graph without images says which graphs have them and the key
    that renders its own."""
    sources = []
    for name in ("overlap-30-epsilon-fixed", "overlap-50-epsilon-adaptive"):
        graph = tmp_path / name / "fc1.zarr"
        cloud = synthetic_graph(graph, 4, WORDS)
        images = None
        if name.endswith("adaptive"):
            images = tmp_path / name / "fc1"
            images.mkdir()
            for node in range(4):
                Image.new("RGB", (8, 8), (40 * node, 90, 200)).save(images / f"node-{node}.png")
            store.write_json(images / "index.json", {"nodes": [
                {"id": node, "file": f"node-{node}.png"} for node in range(4)]})
        sources.append(explorer.GraphSource(
            dataset="digits", model="m", seed=0, sampling="random", layer="fc1",
            parameters=name, graph=str(graph), points=str(cloud),
            node_images=str(images) if images else None))
    note = explorer.images_note(["random"], "opening", "overlap-50-epsilon-adaptive")
    site = tmp_path / "site"
    explorer.build_explorer(sources, site, progress=False,
                            opening="overlap-50-epsilon-adaptive", note=note)
    page, problems, _ = open_page(browser, site)
    wait_drawn(page, "fc1", "overlap-50-epsilon-adaptive")
    assert page.locator("#images-note").is_hidden()
    page.select_option("#glyph-select", "image")
    page.wait_for_function("document.querySelectorAll('#viewport image').length === 4")
    page.select_option("#parameters-select", "overlap-30-epsilon-fixed")
    wait_drawn(page, "fc1", "overlap-30-epsilon-fixed")
    shown = page.locator("#images-note")
    assert shown.is_visible() and shown.text_content() == note
    assert "featurevis.graphs: all" in note and "overlap-50-epsilon-adaptive" in note
    assert page.locator("#viewport image").count() == 0
    assert problems == []


def test_class_names_are_shown_as_text_and_never_run(tmp_path, browser):
    hostile = "<img src=x onerror=alert(1)>"
    site = synthetic_site(tmp_path, 12, [hostile, "cat", "dog"], "l1")
    page, problems, _ = open_page(browser, site)
    data = graph_data(page, "l1", "overlap-30-epsilon-fixed")
    node = next(n for n in data["nodes"] if any(c == 0 for c, _, _ in n["top"]))
    page.locator(f"#viewport .glyph[data-node='{node['id']}'] .node").click(force=True)
    assert any(t.startswith(hostile) for t in page.locator("#top-classes li").all_text_contents())
    page.locator("#class-search").fill("onerror")
    assert page.locator("#suggestions li").all_text_contents() == [hostile]
    page.click("#directory-button")
    assert hostile in page.locator("#directory").text_content()
    assert page.locator("img[src='x']").count() == 0  # nothing was parsed as HTML
    page.wait_for_timeout(200)
    assert problems == []  # no alert dialog, no error


def test_explorer_draws_a_5000_node_graph(tmp_path, browser):
    site = synthetic_site(tmp_path, 5000, [f"class {k}" for k in range(40)], "big")
    page, problems, _ = open_page(browser, site)
    assert page.locator("#viewport .glyph").count() == 5000
    timing = page.evaluate("window.explorerTiming")
    page.locator("#viewport .glyph[data-node='2500'] .node").hover(force=True)
    assert "size 2" in page.locator("#tooltip").text_content()
    # Recorded in bench/RESULTS.md (printed with -s); not asserted: timings are not tests.
    print(f"\n5000-node graph: first draw {timing['first']:.0f} ms after navigation start, "
          f"draw {timing['last']:.0f} ms")
    assert problems == []


def test_weight_space_graphs_are_a_run_whose_nodes_show_their_mean_filter(tmp_path, browser):
    """A dense core of oriented 3×3 edges, built by the weight stage, beside nothing else."""
    rng = np.random.default_rng(0)
    theta = rng.uniform(0, 2 * np.pi, 600)
    grid = np.array([-1.0, 0.0, 1.0])
    x, y = np.meshgrid(grid, grid)
    patches = np.cos(theta)[:, None] * x.ravel() + np.sin(theta)[:, None] * y.ravel()
    normalised = filters.normalise_filters(patches + 0.2 * rng.normal(size=patches.shape),
                                           (3, 3), 0.0)
    seed = np.repeat([0, 1], 300)[normalised.kept]
    store.write_weight_points(tmp_path / "points.zarr", normalised.points, {
        "seed": seed, "out_channel": np.arange(len(seed)), "in_channel": np.zeros_like(seed)},
        {"model": "m", "layer": "conv1", "snapshot": "final", "kernel": [3, 3],
         "seeds": [0, 1]})
    core = tmp_path / "core"
    out = {name: core / name for name in ("dense.zarr", "mapper.zarr", "nodes")}
    core_for_points(tmp_path / "points.zarr", {
        "dense": out["dense.zarr"], "graph": out["mapper.zarr"], "nodes": out["nodes"],
        "barcode": core / "barcode.npz", "summary": core / "summary.json",
        "nodelink": core / "mapper.json", "plot": core / "mapper.png"},
        k=15, keep=0.5, maxdim=1, lens="pca2", intervals=4, overlap=0.3, min_samples=5,
        cover="kmapper")
    site = tmp_path / "site"
    explorer.build_explorer([explorer.GraphSource(
        dataset="weights", model="m", seed=0, sampling="final", layer="conv1",
        parameters="k-15-keep-50", graph=str(out["mapper.zarr"]), points=str(out["dense.zarr"]),
        node_images=str(out["nodes"]), run_name="weights/m")], site, progress=False)
    page, problems, _ = open_page(browser, site)
    assert page.locator("#run-select option").all_text_contents() == ["weights/m"]
    page.locator("#viewport .glyph .node").first.click(force=True)
    assert page.locator("#top-classes li").first.text_content().startswith("training ")
    assert page.locator("#graph-title").text_content().startswith("weights · m · final · ")
    assert "mean lens (pca2, 1st coordinate)" in page.locator("#legend").text_content()
    page.wait_for_function("[...document.querySelectorAll('#average-image img')]"
                           ".every(i => i.complete && i.naturalWidth === 48)")  # 3×3 × 16
    assert problems == []


def test_profiles_page_shows_each_example_with_its_sizes_and_persistence_image(
        tmp_path, browser, trained_model, digits_store):
    """The header links the run's profiles; each profiled example has its thumbnail, its
    profile size per layer and its persistence image, under the class-level figures."""
    base = tmp_path / "profiles"
    profile_store(trained_model, digits_store, base / "profiles.zarr", per_class=1)
    topology_for_store(base / "profiles.zarr", base / "topology.npz",
                       base / "persistence-images.png", MetricSettings(), ImageGrid())
    similarity_for_store(base / "profiles.zarr", base, permutations=10)
    graph = tmp_path / "graph.zarr"
    cloud = synthetic_graph(graph, 6, WORDS)
    site = tmp_path / "site"
    hostile = "<b>m</b>"
    explorer.build_explorer(
        [explorer.GraphSource(dataset="digits", model=hostile, seed=0, sampling="random",
                              layer="fc1", parameters="overlap-30-epsilon-fixed",
                              graph=str(graph), points=str(cloud))],
        site, progress=False,
        profile_sources=[explorer.ProfileSource(
            dataset="digits", model=hostile, seed=0, neuron="channel",
            profiles=str(base / "profiles.zarr"), topology=str(base / "topology.npz"),
            images=str(digits_store))])
    page, problems, _ = open_page(browser, site)
    link = page.locator("#profiles-link")
    assert link.is_visible() and link.text_content() == f"profiles of digits/{hostile}/seed-0"
    link.click()
    page.wait_for_load_state()
    assert "profiles/index.html#digits-" in page.url
    cards = page.locator(".card")
    assert cards.count() == 10
    assert page.locator("b").count() == 0  # the model name is text, not markup
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator(".card .sizes rect").count() == 10 * 10  # 10 layers each
    first = cards.first.locator(".caption").text_content()
    assert "neurons" in first and "H1 bars" in first
    assert page.locator("figure img").count() == 4
    page.screenshot(path=str(ARTIFACTS / "explorer-profiles.png"), full_page=False)
    assert problems == []


def test_links_across_layers_carry_shared_images_and_jaccard():
    """Known answer: node sets {0,1,2}, {3} in one layer and {1,2}, {2,3,4} in the next."""
    a = sparse.csr_matrix(np.array([[1, 1, 1, 0, 0], [0, 0, 0, 1, 0]]))
    b = sparse.csr_matrix(np.array([[0, 1, 1, 0, 0], [0, 0, 1, 1, 1]]))
    links = explorer.shared_image_links(a, b)
    assert links == [[0, 0, 2, round(2 / 3, 4)], [0, 1, 1, 0.2], [1, 1, 1, round(1 / 3, 4)]]


def test_site_sizes_count_the_graph_files_and_images(built):
    sizes = explorer.site_sizes(built)
    files = list((built / "data").glob("graph-*.js"))
    assert sizes["graph_files"] == len(files) > 0
    assert sizes["graphs"] == sum(f.stat().st_size for f in files)
    assert sizes["largest_graph"] == max(f.stat().st_size for f in files)
    assert 0 < sizes["images"] < sizes["total"]


def test_the_page_shows_the_purity_the_purity_stage_wrote(tmp_path):
    """The explorer reads `{graph}.purity.tsv`; computed from the labels, the record is
    the same (an oracle), and a graph stored without its layout is refused by name."""
    classes = ["a", "b", "c"]
    cloud = synthetic_graph(tmp_path / "g.zarr", 30, classes, seed=3)
    table = purity_table_for_graph(tmp_path / "g.zarr", cloud, {"layer": "l1"})
    store.write_tsv(table, tmp_path / "g.purity.tsv")
    graph, stats, _ = store.read_graph(tmp_path / "g.zarr")
    labels = store.open_store(cloud, "activations")["label"][:]
    computed = purity.purity_record(purity.mapper_purity(graph, stats.class_counts, labels, 3),
                                    classes)
    read = read_purity_record(tmp_path / "g.purity.tsv")
    assert read.keys() == computed.keys()
    for key in ("node_purity", "point_purity", "class_purity_mean"):
        assert read[key] == pytest.approx(computed[key])
    assert read["class_purity"] == pytest.approx(computed["class_purity"])
    # What the page gets is the file's, not a recomputation.
    table["node_purity"] = 0.123
    store.write_tsv(table, tmp_path / "g.purity.tsv")
    source = explorer.GraphSource(dataset="d", model="m", seed=0, sampling="random",
                                  layer="l1", parameters="overlap-30-epsilon-fixed",
                                  graph=str(tmp_path / "g.zarr"), points=str(cloud),
                                  purity=str(tmp_path / "g.purity.tsv"))
    payload, _ = explorer.graph_payload(source, tmp_path, "images")
    assert payload["purity"]["node_purity"] == 0.123
    assert [n["purity"] for n in payload["nodes"]] == pytest.approx(
        purity.node_alpha(stats.class_counts).tolist(), abs=1e-5)
    stats.position = None
    store.write_graph(tmp_path / "old.zarr", graph, stats, {"classes": classes})
    with pytest.raises(ValueError, match="no layout"):
        explorer.graph_payload(dataclasses.replace(source, graph=str(tmp_path / "old.zarr")),
                               tmp_path, "images")


def test_the_page_opens_on_the_clean_run_not_a_noisy_variant(tmp_path):
    """Runs are listed clean first: `digits-noise-0.1/…` sorts before `digits/…` by name,
    and the page opens on the first run of its manifest."""
    cloud = synthetic_graph(tmp_path / "g.zarr", 6, ["a", "b"])
    sources = [explorer.GraphSource(dataset=dataset, model="m", seed=0, sampling="random",
                                    layer="l1", parameters="overlap-30-epsilon-fixed",
                                    graph=str(tmp_path / "g.zarr"), points=str(cloud))
               for dataset in ("digits-noise-0.1", "digits-noise-0.5", "digits")]
    manifest = explorer.build_explorer(sources, tmp_path / "site", progress=False)
    assert [g["run"] for g in manifest["graphs"]] == [
        "digits/m/seed-0", "digits-noise-0.1/m/seed-0", "digits-noise-0.5/m/seed-0"]


def test_the_pages_are_templates_that_escape_every_value():
    """index.html for the static site and for the live server (live.js before
    explorer.js), and the profiles page, whose values are escaped by the template."""
    static, live = render_page("index.html", live=False), render_page("index.html", live=True)
    assert "live.js" not in static and static.count('<script src="explorer.js">') == 1
    assert live.index('<script src="live.js">') < live.index('<script src="explorer.js">')
    hostile = '<img src=x onerror="alert(1)">'
    section = {"anchor": hostile, "run": hostile, "neuron": "channel", "threshold": 0.1,
               "folder": "0", "figures": [{"file": "sizes.png", "caption": hostile}],
               "cards": [{"index": 3, "name": hostile, "neurons": 7, "bars": 1,
                          "layers": [{"x": 0.0, "y": 1.0, "width": 2.0, "height": 3.0,
                                      "name": hostile, "size": 7}]}]}
    page = render_page("profiles.html", sections=[section], bars=profile_pages.BARS)
    assert "<img src=x" not in page and page.count("&lt;img src=x onerror=") == 9
    assert "7 neurons · 1 H1 bars" in page
