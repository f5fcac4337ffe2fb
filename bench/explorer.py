"""Explorer in headless Chromium: draw times, switching, multilayer mode, panning frames,
the page's memory and the site's size, on the default run or at TopoAct's paper scale.

Default: opens ``results/explorer/index.html`` (after ``make run``) through Playwright,
draws every graph in turn and saves the README's picture (the largest graph with a node
selected and a class chosen).

``--paper``: builds, with the workflow's own :func:`topoact.explorer.build_explorer`, the
explorer of a synthetic TopoAct-scale grid: 9 layers × 6 parameter sets over 300,000
points (one per image, 1,000 classes), graphs of 1,600 to 5,000 nodes with about two edges
per node, each layer's layout turned by its own angle, the nodes of adjacent layers
sharing images as clusters of a common latent space do. Then it measures the first draw,
switching layers and parameter sets, multilayer mode with three such layers and their
links, the frames while panning the 5,000-node graph, and the page's memory, and saves
screenshots of the multilayer view (default links; a node selected).

Run: ``.venv/bin/python bench/explorer.py [--paper] [--screenshot PATH]``.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from topoact import explorer, store
from topoact.graph import Cover, MapperGraph, NodeStats

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "workflow/report/images"
PAPER_LAYERS = ["mixed3a", "mixed3b", "mixed4a", "mixed4b", "mixed4c", "mixed4d", "mixed4e",
                "mixed5a", "mixed5b"]
#: Grid side per parameter set: about side² nodes (the widest, 71, gives 5,000).
PAPER_SIDES = {"overlap-20-epsilon-adaptive": 40, "overlap-20-epsilon-fixed": 48,
               "overlap-30-epsilon-adaptive": 56, "overlap-30-epsilon-fixed": 60,
               "overlap-50-epsilon-adaptive": 66, "overlap-50-epsilon-fixed": 71}
GLYPHS = "document.querySelectorAll('#viewport .glyph').length"
PAN_SCRIPT = """async ([x0, y0, steps]) => {
  // Frame intervals while the pointer drags the view, measured by animation frames.
  const frames = []; let last = performance.now(), running = true;
  const tick = (now) => {
    frames.push(now - last); last = now; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const svg = document.getElementById('graph');
  const fire = (type, x, y) => (type === 'pointerdown' ? svg : window).dispatchEvent(
    new PointerEvent(type, { clientX: x, clientY: y, bubbles: true }));
  fire('pointerdown', x0, y0);
  for (let k = 1; k <= steps; k++) {
    fire('pointermove', x0 + 4 * k, y0 + 2 * k);
    await new Promise((r) => requestAnimationFrame(r));
  }
  fire('pointerup', x0 + 4 * steps, y0 + 2 * steps);
  running = false;
  return frames.slice(1);
}"""


def paper_graph(path: Path, latent: np.ndarray, labels: np.ndarray, side: int, angle: float,
                classes: list[str]) -> None:
    """One synthetic graph: a node per occupied cell of a side × side grid over the
    points' latent coordinates, edges between occupied neighbouring cells, drawn at the
    cells' centres turned by ``angle``."""
    cell = np.minimum((latent * side).astype(np.int64), side - 1)
    key = cell[:, 0] * side + cell[:, 1]
    order = np.argsort(key, kind="stable")
    cells, starts = np.unique(key[order], return_index=True)
    n_nodes, number = len(cells), {int(c): k for k, c in enumerate(cells)}
    indptr = np.append(starts, len(order))
    edges = [(number[c], number[c + step]) for c in map(int, cells)
             for step in (1, side) if c + step in number and (step == side or (c + 1) % side)]
    counts = np.zeros((n_nodes, len(classes)), np.int64)
    np.add.at(counts, (np.repeat(np.arange(n_nodes), np.diff(indptr)), labels[order]), 1)
    centre = np.c_[cells // side, cells % side] / side - 0.5
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    position = centre @ turn.T
    position = (position - position.min(0)) / np.ptp(position, axis=0)
    graph = MapperGraph(indptr=indptr, indices=order, interval=np.zeros(n_nodes, np.int64),
                        cover=Cover(np.zeros(1), np.ones(1), "exact"),
                        lens=np.linalg.norm(latent, axis=1).astype(np.float32),
                        edges=np.array(edges, np.int64).reshape(-1, 2),
                        intersection=np.ones(len(edges), np.int64),
                        jaccard=np.full(len(edges), 0.2), params={"eps": 1.0})
    sizes = np.diff(indptr)
    stats = NodeStats(size=sizes, mean_lens=np.add.reduceat(graph.lens[order], starts) / sizes,
                      class_counts=counts, mean_activation=np.zeros((n_nodes, 1), np.float32),
                      position=position)
    store.write_graph(path, graph, stats, {"classes": classes})


def build_paper_site(work: Path, points: int = 300_000, seed: int = 0) -> Path:
    """The explorer of a synthetic 9 layers × 6 parameter sets grid (module docstring)."""
    rng = np.random.default_rng(seed)
    classes = [f"class {k:04d}" for k in range(1000)]
    labels = np.arange(points) % len(classes)
    base = rng.random((points, 2))
    cloud = work / "points.zarr"
    with store.atomic_group(cloud, "activations", {"classes": classes}) as group:
        writer = store.ActivationWriter(group, points, 1)
        writer.append(np.zeros((points, 1), np.float32), np.arange(points),
                      np.zeros((points, 2)), labels)
        writer.close()
    sources = []
    for depth, layer in enumerate(PAPER_LAYERS):
        # Deeper layers move the points a little further from the first layer's places.
        latent = np.clip(base + rng.normal(0, 0.004 * (1 + depth), base.shape), 0, 1 - 1e-9)
        angle = rng.uniform(0, 2 * np.pi)
        for parameters, side in PAPER_SIDES.items():
            graph = work / f"{layer}-{parameters}.zarr"
            paper_graph(graph, latent, labels, side, angle, classes)
            sources.append(explorer.GraphSource(
                dataset="imagenet-300", model="inception-v1", seed=0, sampling="random",
                layer=layer, parameters=parameters, graph=str(graph), points=str(cloud)))
    site = work / "site"
    explorer.build_explorer(sources, site, layer_order={"inception-v1": PAPER_LAYERS},
                            opening="overlap-50-epsilon-fixed")
    return site


def site_size(site: Path) -> None:
    sizes = explorer.site_sizes(site)
    print(f"site: {sizes['total'] / 1e6:.1f} MB in all; {sizes['graph_files']} graph files, "
          f"{sizes['graphs'] / 1e6:.1f} MB, largest {sizes['largest_graph'] / 1e6:.2f} MB "
          f"(each loaded when its graph is first shown); images {sizes['images'] / 1e6:.1f} MB")


def frame_summary(frames: list[float]) -> str:
    return (f"{len(frames)} frames, median {np.median(frames):.0f} ms, max {max(frames):.0f} "
            f"ms, over 100 ms: {sum(f > 100 for f in frames)}")


def drawn(page, layer: str, parameters: str, panels: int = 1) -> float:
    """Wait for the draw of (layer, parameters) and return the page's draw time (ms:
    from the draw's start, its data file loaded, to the frame painted)."""
    page.wait_for_function("document.getElementById('graph').getAttribute('data-drawn') === "
                           f"'{layer}|{parameters}|{panels}'", timeout=60_000)
    return page.evaluate("window.explorerTiming.last")


def measure_paper(page, url: str) -> None:
    """First draw, switching, multilayer and panning on the paper-scale site."""
    started = time.perf_counter()
    page.goto(url)
    first_params = "overlap-50-epsilon-fixed"
    draw = drawn(page, PAPER_LAYERS[0], first_params)
    wall = 1000 * (time.perf_counter() - started)
    nodes = page.evaluate(GLYPHS)
    first = page.evaluate("window.explorerTiming.first")
    print(f"first draw ({PAPER_LAYERS[0]}, {nodes} nodes): {first:.0f} ms after navigation "
          f"start (draw {draw:.0f} ms; wall {wall:.0f} ms)")
    switches = []
    for layer in PAPER_LAYERS[1:]:
        page.select_option("#layer-select", layer)
        switches.append(drawn(page, layer, first_params))
    for parameters in list(PAPER_SIDES)[:-1]:
        page.select_option("#parameters-select", parameters)
        switches.append(drawn(page, PAPER_LAYERS[-1], parameters))
    print(f"switching ({len(switches)} graphs, data file loaded on first show): median "
          f"{np.median(switches):.0f} ms, max {max(switches):.0f} ms")
    page.select_option("#parameters-select", first_params)
    page.select_option("#layer-select", "mixed4c")
    drawn(page, "mixed4c", first_params)
    frames = page.evaluate(PAN_SCRIPT, [700, 450, 60])
    glyphs = page.evaluate(GLYPHS)
    print(f"panning the {glyphs}-node graph: {frame_summary(frames)}")
    page.check("#multilayer-toggle")
    multi = drawn(page, "mixed4c", first_params, panels=3)
    page.check("#crosslinks-toggle")
    links = drawn(page, "mixed4c", first_params, panels=3)
    counts = page.evaluate("[document.querySelectorAll('#viewport .crosslink').length, "
                           "[...document.querySelectorAll('#viewport .crosslinks-faded')]"
                           ".reduce((n, p) => n + Number(p.getAttribute('data-links')), 0)]")
    print(f"multilayer (mixed4b | mixed4c | mixed4d): {multi:.0f} ms; with links "
          f"{links:.0f} ms ({counts[0]} strong, {counts[1]} faded)")
    frames = page.evaluate(PAN_SCRIPT, [700, 450, 60])
    print(f"panning the multilayer view: {frame_summary(frames)}")
    page.click("#reset-view")
    page.screenshot(path=str(IMAGES / "explorer-multilayer-paper.png"))
    node = page.evaluate("window.TOPOACT_GRAPHS[Object.keys(window.TOPOACT_GRAPHS).find(k => "
                         "window.TOPOACT_GRAPHS[k].layer === 'mixed4c' && "
                         f"window.TOPOACT_GRAPHS[k].parameters === '{first_params}')]"
                         ".nodes.length >> 1")
    page.locator(f"#viewport .glyph[data-layer='mixed4c'][data-node='{node}'] .node").click(
        force=True)
    selected = drawn(page, "mixed4c", first_params, panels=3)
    print(f"a node selected (its links traced through the three layers): {selected:.0f} ms")
    page.screenshot(path=str(IMAGES / "explorer-multilayer-paper-selected.png"))
    session = page.context.new_cdp_session(page)
    session.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in session.send("Performance.getMetrics")["metrics"]}
    print(f"page memory: JS heap {metrics['JSHeapUsedSize'] / 1e6:.0f} MB, "
          f"{metrics['Nodes']:.0f} DOM nodes")


def measure_default(page, url: str, screenshot: Path) -> None:
    """Every graph of the default run drawn in turn; the README's picture; multilayer
    mode with its links on conv2 | conv3 | conv4, and its screenshot."""
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function("window.explorerTiming && window.explorerTiming.draws > 0")
    wall = 1000 * (time.perf_counter() - started)
    print(f"page open to first draw: {page.evaluate('window.explorerTiming.first'):.0f} ms "
          f"(wall {wall:.0f} ms)")
    timings = []
    for graph in page.evaluate("window.TOPOACT_MANIFEST.graphs"):
        # The weight-space graphs are a run of their own: choose the run first.
        if page.locator("#run-control").is_visible():
            page.select_option("#run-select", graph["run"])
        page.select_option("#sampling-select", graph["sampling"])
        page.select_option("#layer-select", graph["layer"])
        page.select_option("#parameters-select", graph["parameters"])
        timings.append((drawn(page, graph["layer"], graph["parameters"]), graph))
    timings.sort(key=lambda t: t[1]["nodes"])
    ms = [t for t, _ in timings]
    print(f"{len(ms)} graphs: draw median {np.median(ms):.0f} ms, max {max(ms):.0f} ms")
    largest_ms, largest = timings[-1]
    print(f"largest graph ({largest['sampling']} {largest['layer']} "
          f"{largest['parameters']}, {largest['nodes']} nodes): draw {largest_ms:.0f} ms")
    if page.locator("#run-control").is_visible():
        page.select_option("#run-select", "digits/digits-cnn/seed-0")
    page.select_option("#sampling-select", "random")
    page.select_option("#layer-select", "conv3")
    page.select_option("#parameters-select", "overlap-30-epsilon-adaptive")
    drawn(page, "conv3", "overlap-30-epsilon-adaptive")
    page.select_option("#glyph-select", "pie")
    page.locator("#class-search").fill("7")
    page.locator("#suggestions li").first.dispatch_event("mousedown")
    page.wait_for_timeout(200)
    node = page.evaluate("""() => {
        const g = Object.values(window.TOPOACT_GRAPHS).find(
          g => g.layer === 'conv3' && g.parameters === 'overlap-30-epsilon-adaptive'
               && g.sampling === 'random');
        return g.nodes.filter(n => n.top.some(t => g.classes[t[0]] === '7'))
                      .sort((a, b) => b.size - a.size)[0].id; }""")
    page.locator(f"#viewport .glyph[data-node='{node}'] .node").click(force=True)
    page.wait_for_timeout(300)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot))
    print(f"screenshot: {screenshot}")
    page.locator("#class-search").fill("")
    page.check("#multilayer-toggle")
    page.check("#crosslinks-toggle")
    links = drawn(page, "conv3", "overlap-30-epsilon-adaptive", panels=3)
    print(f"multilayer with links (conv2 | conv3 | conv4): {links:.0f} ms")
    page.screenshot(path=str(IMAGES / "explorer-multilayer.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "results/explorer")
    parser.add_argument("--paper", action="store_true",
                        help="build and measure the synthetic TopoAct-scale explorer")
    parser.add_argument("--screenshot", type=Path, default=IMAGES / "explorer.png")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="explorer-paper-")) if args.paper else None
    site = build_paper_site(work) if args.paper else args.site
    site_size(site)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1500, "height": 950}, bypass_csp=True)
        print(f"machine: {platform.machine()}, chromium {browser.version}")
        url = (site / "index.html").as_uri()
        if args.paper:
            measure_paper(page, url)
        else:
            measure_default(page, url, args.screenshot)
        browser.close()
    if work:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
