"""The live server under load: clients building, saving and browsing at once.

Starts the real ``topoact serve`` (a subprocess, loopback only) on a results tree it
makes (a small cloud of 3,000 points and a large one of 120,000, 32 dimensions, with an
images store for the thumbnails), then runs CLIENTS threads for SECONDS, each looping
over a mix: builds of the small cloud (new ε each time, so most are real builds),
builds of the large cloud, saves of one same graph, and cheap requests (the cloud list,
a k-distance curve, a thumbnail, the status). Afterwards it checks what must hold: the
server's torch thread count is what it was, its memory within ``--cache-mb`` plus one
build, every saved graph reads back with ``topoact info`` and equals a fresh build, and
no ``.partial`` is left. It prints the figures and, with ``--json``, writes them.

Run: ``.venv/bin/python bench/serve_load.py [--seconds 30] [--clients 8] [--json out.json]``
(the test ``tests/test_serve_load.py`` runs it and checks the figures).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from topoact import mapper, store

ROOT = Path(__file__).resolve().parent.parent
TOPOACT = ROOT / ".venv/bin/topoact"
SMALL = "activations/synthetic/blobs/seed-0/random/small.zarr"
LARGE = "activations/synthetic/blobs/seed-0/random/large.zarr"
SAVED = {"cloud": SMALL, "intervals": 20, "overlap": 0.3, "eps": 5.0, "min_samples": 5}
CACHE_MB = 128


def write_cloud(path: Path, points: np.ndarray, images: int) -> None:
    labels = (np.arange(len(points)) % 10).astype(np.int16)
    with store.atomic_group(path, "activations", {"classes": [str(c) for c in range(10)]}) \
            as group:
        writer = store.ActivationWriter(group, len(points), points.shape[1])
        writer.append(points, np.arange(len(points)) % images, np.zeros((len(points), 2)),
                      labels)
        writer.close()


def make_results(root: Path, seed: int = 0) -> Path:
    """A results tree: an images store (64 images) and the two clouds."""
    rng = np.random.default_rng(seed)
    results = root / "results"
    pictures = rng.integers(0, 255, (64, 8, 8, 3), dtype=np.uint8)
    store.write_images(results / "data/synthetic.zarr", [(pictures, np.arange(64) % 10)],
                       count=64, image_shape=(8, 8, 3), classes=[str(c) for c in range(10)],
                       splits={"all": (0, 64)}, source="bench", attrs={})
    centres = rng.normal(0, 4, (30, 32))
    for name, n in ((SMALL, 3_000), (LARGE, 120_000)):
        points = centres[rng.integers(0, 30, n)] + rng.normal(0, 1, (n, 32))
        write_cloud(results / name, points.astype(np.float32), 64)
    return results


def start_server(results: Path, *extra: str) -> tuple[subprocess.Popen, str, str]:
    """``topoact serve`` on a free loopback port: (process, base URL, token)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([str(TOPOACT), "serve", str(results), "--port", str(port),
                                *extra], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if "token=" not in line:
        process.kill()
        raise RuntimeError(f"topoact serve did not start: {line!r}")
    base, token = f"http://127.0.0.1:{port}", line.strip().split("token=")[1]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            call(base, token, "/api/status")
            return process, base, token
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("topoact serve did not answer within 60 s")


def call(base: str, token: str, path: str, body: dict | None = None,
         timeout: float = 120) -> tuple[int, object]:
    """One request: (status, JSON or bytes)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers={
        "X-Topoact-Token": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload


def client(base: str, token: str, until: float, seed: int, log: list, lock) -> None:
    """One client's loop: 40 % cheap requests, 35 % small builds, 15 % large builds,
    10 % saves of the same graph."""
    rng = random.Random(seed)
    while time.monotonic() < until:
        roll = rng.random()
        if roll < 0.4:
            kind = "cheap"
            path = rng.choice(["/api/clouds", f"/api/curve?cloud={SMALL}", "/api/status",
                               f"/api/thumb?dataset=synthetic&image={rng.randrange(64)}"])
            body = None
        elif roll < 0.75:
            kind, path = "build-small", "/api/graph"
            body = {**SAVED, "intervals": rng.randrange(5, 40), "eps": rng.uniform(3, 7)}
        elif roll < 0.9:
            kind, path = "build-large", "/api/graph"
            body = {**SAVED, "cloud": LARGE, "intervals": 30, "eps": rng.uniform(4, 6)}
        else:
            kind, path, body = "save", "/api/save", SAVED
        start = time.monotonic()
        status, _ = call(base, token, path, body)
        with lock:
            log.append((kind, status, time.monotonic() - start))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def saved_graphs_hold(results: Path) -> tuple[int, list[str]]:
    """Every saved graph reads back with ``topoact info`` and equals a fresh build."""
    problems, stores = [], sorted((results / "live").rglob("*.zarr"))
    cloud = store.read_activations(results / SMALL)
    fresh = mapper.build_mapper(cloud.points, SAVED["intervals"], SAVED["overlap"],
                                SAVED["eps"], SAVED["min_samples"])
    expected = {tuple(fresh.members(n)) for n in range(fresh.n_nodes)}
    for path in stores:
        info = subprocess.run([str(TOPOACT), "info", str(path)], capture_output=True,
                              text=True)
        graph = store.read_graph(path)[0]
        if info.returncode != 0:
            problems.append(f"{path}: topoact info failed: {info.stderr.strip()}")
        elif {tuple(graph.members(n)) for n in range(graph.n_nodes)} != expected:
            problems.append(f"{path}: not the graph a fresh build gives")
    return len(stores), problems


def run_load(seconds: float = 30, clients: int = 8) -> dict:
    """Start a server on a fresh results tree, load it, check it; the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        results = make_results(Path(tmp))
        process, base, token = start_server(results, "--cache-mb", str(CACHE_MB),
                                            "--max-build-s", "20")
        try:
            call(base, token, f"/api/curve?cloud={SMALL}")  # the one slow curve, first
            before = call(base, token, "/api/status")[1]
            log: list = []
            lock = threading.Lock()
            until = time.monotonic() + seconds
            threads = [threading.Thread(target=client, args=(base, token, until, k, log, lock))
                       for k in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            after = call(base, token, "/api/status")[1]
        finally:
            process.kill()
            process.wait()
        saved, problems = saved_graphs_hold(results)
        partials = [str(p) for p in results.rglob("*.partial")]
    figures = {"seconds": seconds, "clients": clients, "requests": len(log),
               "machine": platform.machine(), "cache_mb": CACHE_MB,
               "statuses": sorted({status for _, status, _ in log}),
               "before": before, "after": after, "saved_stores": saved,
               "problems": problems, "partials": partials}
    for kind in ("cheap", "build-small", "build-large", "save"):
        times = [t for k, _, t in log if k == kind]
        figures[kind] = {"count": len(times), "p50_s": percentile(times, 50),
                         "p95_s": percentile(times, 95), "max_s": max(times, default=0.0),
                         "errors": sum(1 for k, s, _ in log if k == kind and s != 200)}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = run_load(args.seconds, args.clients)
    print(f"{figures['requests']} requests from {args.clients} clients in {args.seconds:g} s "
          f"(statuses {figures['statuses']})")
    for kind in ("cheap", "build-small", "build-large", "save"):
        f = figures[kind]
        print(f"  {kind:12} {f['count']:5} requests, p50 {f['p50_s']:.3f} s, "
              f"p95 {f['p95_s']:.3f} s, max {f['max_s']:.2f} s, {f['errors']} not 200")
    b, a = figures["before"], figures["after"]
    print(f"torch threads {b['torch_threads']} → {a['torch_threads']}; memory "
          f"{b['rss_mb']:.0f} → {a['rss_mb']:.0f} MB (peak {a['peak_rss_mb']:.0f} MB, cache "
          f"bound {CACHE_MB} MB); {figures['saved_stores']} saved stores, problems: "
          f"{figures['problems'] or 'none'}; partial files left: {len(figures['partials'])}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
