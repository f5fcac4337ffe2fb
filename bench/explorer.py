"""Explorer: time to first draw of every graph of the default grid, in headless Chromium.

Opens ``results/explorer/index.html`` (after ``make run``) in Debian's chromium through
Playwright, switches to each (sampling, layer, parameter set) in turn and records the
draw time the page reports (``window.explorerTiming``), then saves a screenshot of the
largest graph with a node selected and a class chosen (the README's picture).

Run: ``.venv/bin/python bench/explorer.py [--screenshot PATH]``.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "results/explorer")
    parser.add_argument("--screenshot", type=Path,
                        default=ROOT / "workflow/report/images/explorer.png")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1500, "height": 950}, bypass_csp=True)
        started = time.perf_counter()
        page.goto((args.site / "index.html").as_uri())
        page.wait_for_function("window.explorerTiming && window.explorerTiming.draws > 0")
        first = page.evaluate("window.explorerTiming.first")
        print(f"machine: {platform.machine()}, chromium {browser.version}")
        wall = 1000 * (time.perf_counter() - started)
        print(f"page open to first draw: {first:.0f} ms (wall {wall:.0f} ms)")
        graphs = page.evaluate("window.TOPOACT_MANIFEST.graphs")
        timings = []
        for graph in graphs:
            # The weight-space graphs are a run of their own: choose the run first.
            if page.locator("#run-control").is_visible():
                page.select_option("#run-select", graph["run"])
            page.select_option("#sampling-select", graph["sampling"])
            page.select_option("#layer-select", graph["layer"])
            page.select_option("#parameters-select", graph["parameters"])
            page.wait_for_function(
                "document.getElementById('graph').getAttribute('data-drawn') === "
                f"'{graph['layer']}|{graph['parameters']}|1'")
            timings.append((page.evaluate("window.explorerTiming.last"), graph))
        timings.sort(key=lambda t: t[1]["nodes"])
        ms = [t for t, _ in timings]
        print(f"{len(graphs)} graphs: draw median {sorted(ms)[len(ms) // 2]:.0f} ms, "
              f"max {max(ms):.0f} ms")
        largest_ms, largest = timings[-1]
        print(f"largest graph ({largest['sampling']} {largest['layer']} "
              f"{largest['parameters']}, {largest['nodes']} nodes): draw {largest_ms:.0f} ms")

        if page.locator("#run-control").is_visible():
            page.select_option("#run-select", "digits/digits-cnn/seed-0")
        page.select_option("#sampling-select", "random")
        page.select_option("#layer-select", "conv3")
        page.select_option("#parameters-select", "overlap-30-epsilon-adaptive")
        page.wait_for_function("document.getElementById('graph').getAttribute('data-drawn')"
                               " === 'conv3|overlap-30-epsilon-adaptive|1'")
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
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.screenshot))
        print(f"screenshot: {args.screenshot}")
        browser.close()


if __name__ == "__main__":
    main()
