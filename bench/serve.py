"""The live explorer: from the ε slider's release to the new graph drawn, in a real browser.

Starts `topoact serve` on the workflow's results (after ``make run``), opens its page in
Debian's headless Chromium, picks a cloud, and for several ε around the knee estimate
moves the slider and releases it; the page times each rebuild from the release to the
graph painted (``window.topoactLive.lastDraw``: the request, the engine, the JSON, the
draw and two animation frames). Each ε is new, so no answer comes from the cache. Side by
side, KeplerMapper + scikit-learn DBSCAN build the same graph (its ``map`` call alone, no
drawing), as a user recomputing a graph by hand would.

Run: ``.venv/bin/python bench/serve.py [--cloud activations/.../random/conv3.zarr]``
(the cloud relative to ``results``; default: ``random/conv3`` and ``full/conv3``).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
from serve_load import start_server  # bench/serve_load.py: the server, once it answers

from topoact import mapper, store

ROOT = Path(__file__).resolve().parent.parent
CLOUDS = ["activations/digits/digits-cnn/seed-0/random/conv3.zarr",
          "activations/digits/digits-cnn/seed-0/full/conv3.zarr"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def keplermapper_seconds(points: np.ndarray, eps: float, intervals: int, overlap: float) -> float:
    import kmapper as km
    from sklearn.cluster import DBSCAN

    lens = mapper.l2_lens(points).reshape(-1, 1)
    start = time.perf_counter()
    km.KeplerMapper(verbose=0).map(lens, points, clusterer=DBSCAN(eps=eps, min_samples=5),
                                   cover=km.Cover(n_cubes=intervals, perc_overlap=overlap))
    return time.perf_counter() - start


def show_cloud(page, cloud: str) -> float:
    """Pick the cloud in the panel (pressing **estimate ε** where the workflow made no
    estimate, as a user would); its knee ε."""
    page.select_option("#live-cloud", cloud)
    page.wait_for_function(f"window.topoactLive.curveShown === {cloud!r}", timeout=600_000)
    if page.locator("#live-estimate").is_visible():
        page.locator("#live-estimate").click()
        page.wait_for_function("document.getElementById('live-estimate').hidden",
                               timeout=600_000)
    return page.evaluate(f"window.topoactLive.clouds.find(c => c.cloud === {cloud!r}).epsilon")


def measure(page, epsilons: list[float], intervals: int) -> list[dict]:
    page.locator("#live-intervals").fill(str(intervals))
    rows = []
    for eps in epsilons:
        builds = page.evaluate("window.topoactLive.builds")
        page.evaluate("""(eps) => { const s = document.getElementById('live-eps');
                                    s.value = String(eps); s.dispatchEvent(new Event('input'));
                                    s.dispatchEvent(new Event('change')); }""", eps)
        page.wait_for_function(f"window.topoactLive.builds > {builds}", timeout=600_000)
        rows.append({"eps": eps, "seconds": page.evaluate("window.topoactLive.lastDraw") / 1000,
                     "nodes": page.locator("#viewport .glyph").count()})
    return rows


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--cloud", action="append", help="cloud(s) relative to results")
    parser.add_argument("--intervals", type=int, default=70)
    parser.add_argument("--skip-kmapper", action="store_true")
    args = parser.parse_args()
    process, base, token = start_server(args.results)
    url = f"{base}/?token={token}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=True)
            page.goto(url)
            page.wait_for_function("window.topoactLive && window.topoactLive.ready")
            for cloud in args.cloud or CLOUDS:
                points = store.read_activations(args.results / cloud).points
                knee = show_cloud(page, cloud)
                epsilons = [round(knee * f, 4) for f in (0.9, 0.95, 1.0, 1.05, 1.1)]
                rows = measure(page, epsilons, args.intervals)
                print(f"{cloud}: {points.shape[0]:,} × {points.shape[1]}, {args.intervals} "
                      "intervals, overlap 0.3, min_samples 5")
                for row in rows:
                    theirs = ("" if args.skip_kmapper else
                              f"; KeplerMapper's map alone {keplermapper_seconds(points, row['eps'], args.intervals, 0.3):.2f} s")  # noqa: E501
                    print(f"  ε {row['eps']:<8} release → drawn {row['seconds']:.2f} s, "
                          f"{row['nodes']} nodes{theirs}")
                times = [r["seconds"] for r in rows]
                print(f"  median {np.median(times):.2f} s, max {max(times):.2f} s")
            browser.close()
    finally:
        process.kill()


if __name__ == "__main__":
    main()
