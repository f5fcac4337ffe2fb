"""``topoact serve``: the explorer plus a local API that rebuilds any mapper graph live.

The page is the static explorer's (the same ``index.html``, ``explorer.js`` and style)
with a parameter panel (``live.js``): pick an activation cloud of the results folder, set
intervals, overlap, ε (a slider over the cloud's k-distance curve, the knee marked),
min_samples, cover and lens; the server builds the graph with the engine and the page
draws it. **Save** writes the graph (zarr, node-link JSON, KeplerMapper JSON, provenance)
under ``results/live/`` and shows the config lines that put it in the workflow's grid.

Security, for shared machines and clusters:

- binds to 127.0.0.1 unless told otherwise; another address needs the host names
  clients use (``--allowed-host``);
- a random token (in the printed URL) on every request: the page's URL carries it once,
  the server answers with an HttpOnly, SameSite=Strict cookie, and the page's API calls
  send it in a header; a missing or wrong token gets 401;
- the Host header must be the bound host (DNS rebinding gets 400);
- only paths inside the results folder are read (traversal, absolute paths and symlinks
  leaving it get 403), and only ``results/live/`` is written, each store atomically;
- parameters are validated (400 with the reason, shown on the page), request bodies are
  bounded as their bytes arrive (413), and each cloud builds one graph at a time (the
  others wait their turn);
- every build is bounded: its time is estimated before any work (:mod:`topoact.buildcost`,
  this machine's pace measured at start-up) and refused over ``--max-build-s`` (400, with
  the estimate); a build stops at the engine's next interval when its client leaves or
  it runs past the budget anyway;
- nothing process-wide changes per request (torch's thread count is set once at
  start-up); saves of one graph take turns on its lock, each written under a name of
  its own, so a racing save gets the complete files of the one before.

Built graphs stay in a bounded LRU cache (by an estimate of their memory).
"""

from __future__ import annotations

import io
import ipaddress
import json
import math
import resource
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import numpy as np
import torch
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from topoact import buildcost, epsilon, mapper, names, store
from topoact.engine.memory import limit_arenas
from topoact.explorer import ASSETS, graph_view
from topoact.explorer.pages import render_page
from topoact.files import locked
from topoact.graph import BuildCancelled, EngineOptions
from topoact.plan import base_dataset
from topoact.purity import mapper_purity, purity_record
from topoact.steps.mapper import graph_files

#: Largest request body accepted (bytes).
MAX_BODY = 16 << 10
COOKIE = "topoact_token"
#: Live graphs' data examples: this many input images per top class.
EXAMPLES_PER_CLASS = 4
#: Default bound on one build's estimated (and actual) time, seconds.
MAX_BUILD_S = 30.0
#: How often a waiting or building request checks whether its client is still there.
POLL_S = 0.1


class Problem(Exception):
    """A request the server refuses, with its HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GraphRequest:
    """A live graph's cloud (relative to the results folder) and parameters."""

    cloud: str
    intervals: int
    overlap: float
    eps: float
    min_samples: int
    cover: str = "exact"
    lens: str = "l2"

    @property
    def name(self) -> str:
        """The folder a saved graph goes to, naming every parameter."""
        parts = [f"intervals-{self.intervals}",
                 f"overlap-{names.percent_label(100 * self.overlap)}",
                 f"epsilon-{self.eps:.6g}", f"min-samples-{self.min_samples}"]
        parts += [f"cover-{self.cover}"] if self.cover != "exact" else []
        parts += [f"lens-{self.lens}"] if self.lens != "l2" else []
        return "-".join(parts)


def _number(payload: dict, key: str, kind: type, low: float, high: float,
            low_open: bool = False, high_open: bool = False) -> Any:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Problem(400, f"{key} must be a number, got {value!r}")
    if kind is int and int(value) != value:
        raise Problem(400, f"{key} must be a whole number, got {value!r}")
    if value < low or value > high or (low_open and value == low) or (high_open and value == high):
        brackets = ("(" if low_open else "[") + f"{low:g}, {high:g}" + (")" if high_open else "]")
        raise Problem(400, f"{key} must be in {brackets}, got {value!r}")
    return kind(value)


def parse_graph_request(payload: Any) -> GraphRequest:
    """A validated :class:`GraphRequest` from a JSON body; a :class:`Problem` (400) names
    the first bad field and what it must be."""
    if not isinstance(payload, dict):
        raise Problem(400, "the request body must be a JSON object")
    cloud = payload.get("cloud")
    if not isinstance(cloud, str) or not cloud:
        raise Problem(400, "cloud must be the path of an activations store")
    cover, lens = payload.get("cover", "exact"), payload.get("lens", "l2")
    if cover not in names.COVERS:
        raise Problem(400, f"cover must be one of {list(names.COVERS)}, got {cover!r}")
    if lens not in names.LENSES:
        raise Problem(400, f"lens must be one of {list(names.LENSES)}, got {lens!r}")
    return GraphRequest(
        cloud=cloud, intervals=_number(payload, "intervals", int, 1, 1000),
        overlap=_number(payload, "overlap", float, 0, 1, high_open=True),
        eps=_number(payload, "eps", float, 0, 1e12, low_open=True),
        min_samples=_number(payload, "min_samples", int, 1, 10_000), cover=cover, lens=lens)


def inside(root: Path, relative: str) -> Path:
    """``root / relative`` where it stays inside ``root`` once resolved (symlinks
    followed); a :class:`Problem` (403) otherwise."""
    if not relative or Path(relative).is_absolute() or "\\" in relative:
        raise Problem(403, f"{relative!r} is not a path inside the results folder")
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise Problem(403, f"{relative!r} leaves the results folder")
    return candidate


def epsilon_record(results: Path, run: str, sampling: str, layer: str) -> Path:
    """Where the workflow records a cloud's ε estimate (``run`` = dataset/model/seed-S)."""
    return results / "epsilon" / run / sampling / f"{layer}.json"


def list_clouds(results: Path) -> list[dict[str, Any]]:
    """Every activations store of the results folder, with its run, sampling, layer, size
    and, where the workflow estimated it, the ε at the knee and the k-distance curve."""
    clouds = []
    for path in sorted((results / "activations").glob("*/*/seed-*/*/*.zarr")):
        dataset, model, seed, sampling = path.relative_to(results / "activations").parts[:4]
        try:
            shape = store.open_store(path, "activations")["points"].shape
        except store.StoreError:
            continue  # a store being written, or not one
        recorded = epsilon_record(results, f"{dataset}/{model}/{seed}", sampling, path.stem)
        record = store.read_json(recorded) if recorded.exists() else {}
        clouds.append({
            "cloud": str(path.relative_to(results)), "run": f"{dataset}/{model}/{seed}",
            "dataset": dataset, "model": model, "sampling": sampling, "layer": path.stem,
            "points": int(shape[0]), "dimensions": int(shape[1]),
            "epsilon": record.get("epsilon"), "k": record.get("k"),
            "curve": (record.get("curve") or {}).get("sample")})
    return clouds


@dataclass
class Cloud:
    """A loaded activation cloud: its points and what the page shows of them."""

    points: np.ndarray
    labels: np.ndarray
    classes: list[str]
    image: np.ndarray
    run: str
    dataset: str
    sampling: str
    layer: str


class LRU:
    """A dict bounded by the summed size of its values (least recently used go first)."""

    def __init__(self, limit_bytes: int):
        self.limit, self.items, self.sizes = limit_bytes, OrderedDict(), {}
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            if key not in self.items:
                return None
            self.items.move_to_end(key)
            return self.items[key]

    def total(self) -> int:
        """The summed size of the values held."""
        with self.lock:
            return sum(self.sizes.values())

    def put(self, key, value, size: int) -> None:
        with self.lock:
            self.items[key], self.sizes[key] = value, size
            self.items.move_to_end(key)
            while sum(self.sizes.values()) > self.limit and len(self.items) > 1:
                oldest = next(iter(self.items))
                del self.items[oldest], self.sizes[oldest]


class LiveGraphs:
    """Loads clouds, builds graphs with the engine (one at a time per cloud, each bounded
    by ``max_build_s``), keeps them in a bounded cache and saves the ones a researcher
    keeps.

    ``stop`` arguments are a :class:`threading.Event` set when the request's client
    leaves: a waiting or building request then gives up at its next check.
    """

    def __init__(self, results: Path, cache_mb: int = 1024, device: str = "cpu",
                 max_build_s: float = MAX_BUILD_S, workers: int | None = None,
                 pace: buildcost.Pace | None = None):
        self.results = Path(results).resolve()
        self.device, self.max_build_s, self.workers = device, max_build_s, workers
        self.pace = pace or buildcost.measure_pace(workers)
        self.clouds = LRU(cache_mb << 19)   # half the budget for clouds, half for graphs
        self.graphs = LRU(cache_mb << 19)   # and lenses
        self.locks: dict[str, threading.Lock] = {}
        self.guard = threading.Lock()
        self.building = 0
        self.builds_started = 0  # every engine build since start-up (refusals start none)

    def canonical(self, relative: str) -> str:
        """The cloud's path relative to the results folder, symlinks and ``.`` resolved:
        the one key of its cache entries and lock."""
        path = inside(self.results, relative)
        if path.suffix != ".zarr" or not path.is_relative_to(self.results / "activations"):
            raise Problem(403, f"{relative!r} is not an activations store of the results")
        return str(path.relative_to(self.results))

    def cloud(self, relative: str) -> Cloud:
        key = self.canonical(relative)
        path = self.results / key
        found = self.clouds.get(key)
        if found is None:
            try:
                cloud = store.read_activations(path)
            except store.StoreError as error:
                raise Problem(404, str(error)) from error
            where = path.relative_to(self.results / "activations").parts
            dataset, model, seed, sampling = where[:4]
            # Class names from the store, else the label numbers.
            classes = ([str(c) for c in cloud.attrs.get("classes", [])]
                       or [str(k) for k in range(int(cloud.label.max(initial=0)) + 1)])
            found = Cloud(cloud.points, cloud.label, classes, cloud.image,
                          f"{dataset}/{model}/{seed}", dataset, sampling, path.stem)
            self.clouds.put(key, found, cloud.points.nbytes)
        return found

    def curve(self, relative: str, stop: threading.Event | None = None) -> dict[str, Any]:
        """The cloud's ε at the knee and its sorted k-distance curve: the workflow's
        estimate where it made one, else the same estimator's (k = 5; clouds over 20,000
        points from k-means cells), computed once."""
        key = self.canonical(relative)
        cloud = self.cloud(key)
        found = self.graphs.get(("curve", key))
        if found is None:
            with self._turn(key, stop):
                recorded = epsilon_record(self.results, cloud.run, cloud.sampling, cloud.layer)
                record = (store.read_json(recorded) if recorded.exists() else
                          epsilon.estimate_epsilon(cloud.points, 5, max_points=20_000,
                                                   exact_below=20_000)[0].to_dict())
                found = {"epsilon": record["epsilon"], "k": record["k"],
                         "curve": record["curve"].get("sample"),
                         "from_workflow": recorded.exists()}
            self.graphs.put(("curve", key), found, 8 * len(found["curve"] or []))
        return found

    @contextmanager
    def _turn(self, key: str, stop: threading.Event | None) -> Iterator[None]:
        """Wait for the cloud's lock, giving up when the client leaves."""
        with self.guard:
            lock = self.locks.setdefault(key, threading.Lock())
        while not lock.acquire(timeout=POLL_S):
            if stop is not None and stop.is_set():
                raise Problem(499, "the client left while the request waited its turn")
        try:
            yield
        finally:
            lock.release()

    def lens(self, key: str, cloud: Cloud, name: str) -> np.ndarray:
        """The cloud's lens values (cached), once its estimated time is within budget."""
        found = self.graphs.get(("lens", key, name))
        if found is None:
            seconds = buildcost.lens_seconds(self.pace, *cloud.points.shape, name)
            if seconds > self.max_build_s:
                raise Problem(400, f"the {name} lens of {key} ({len(cloud.points):,} points "
                                   f"× {cloud.points.shape[1]}) would take about "
                                   f"{seconds:.3g} s; the budget is {self.max_build_s:g} s "
                                   "(--max-build-s)")
            found = mapper.make_lens(cloud.points, name)
            self.graphs.put(("lens", key, name), found, found.nbytes)
        return found

    def build(self, request: GraphRequest, stop: threading.Event | None = None
              ) -> tuple[Any, Any, Cloud]:
        """The graph of a request (cached), its node stats and its cloud."""
        request = replace(request, cloud=self.canonical(request.cloud))
        cached = self.graphs.get(request)
        if cached is not None:
            return cached
        cloud = self.cloud(request.cloud)
        lens = self.lens(request.cloud, cloud, request.lens)
        try:
            estimate = buildcost.estimate_build(self.pace, lens, cloud.points.shape[1],
                                                request.intervals, request.overlap,
                                                request.cover, request.min_samples)
        except ValueError as error:
            raise Problem(400, str(error)) from error
        if estimate.seconds > self.max_build_s:
            raise Problem(400, f"this graph would take {estimate.describe()}; the budget "
                               f"is {self.max_build_s:g} s (--max-build-s): fewer "
                               "intervals, a smaller ε or another cloud")
        with self._turn(request.cloud, stop):  # one build per cloud: the others wait
            cached = self.graphs.get(request)
            if cached is not None:
                return cached
            graph = self._run_build(request, cloud, lens, estimate, stop)
            stats = mapper.node_stats(graph, cloud.points, cloud.labels, len(cloud.classes))
            found = (graph, stats, cloud)
            self.graphs.put(request, found, graph.indices.nbytes + stats.mean_activation.nbytes
                            + graph.lens.nbytes)
        return found

    def _run_build(self, request: GraphRequest, cloud: Cloud, lens: np.ndarray,
                   estimate: buildcost.Estimate, stop: threading.Event | None):
        """Build with the engine, stopping at its next interval when the client leaves
        or the build runs past the budget."""
        deadline = time.monotonic() + self.max_build_s

        def cancel() -> bool:
            return (stop is not None and stop.is_set()) or time.monotonic() > deadline

        with self.guard:
            self.building += 1
            self.builds_started += 1
        try:
            return mapper.build_mapper(
                cloud.points, request.intervals, request.overlap, request.eps,
                request.min_samples, request.cover, lens=lens, lens_name=request.lens,
                engine=EngineOptions(device=self.device, workers=self.workers, cancel=cancel))
        except BuildCancelled as error:
            if stop is not None and stop.is_set():
                raise Problem(499, "the client left; the build stopped") from error
            raise Problem(503, f"the build ran past the budget of {self.max_build_s:g} s "
                               f"(--max-build-s; estimated {estimate.describe()}) and "
                               "stopped") from error
        except ValueError as error:
            raise Problem(400, str(error)) from error
        finally:
            with self.guard:
                self.building -= 1

    def payload(self, request: GraphRequest, stop: threading.Event | None = None
                ) -> dict[str, Any]:
        """What the page draws of the request's graph (the explorer's graph view)."""
        request = replace(request, cloud=self.canonical(request.cloud))
        graph, stats, cloud = self.build(request, stop)
        purity = purity_record(mapper_purity(graph, stats.class_counts, cloud.labels,
                                             len(cloud.classes)), cloud.classes)
        view = graph_view(graph, stats, cloud.classes, purity,
                          examples=self._examples(graph, stats, cloud))
        dataset, model, seed = cloud.run.split("/")
        return {"dataset": dataset, "model": model, "seed": int(seed.split("-")[1]),
                "run": f"live · {cloud.run}", "sampling": cloud.sampling,
                "layer": cloud.layer, "parameters": request.name, **view, "live": True,
                "stability": None, "next_layer_links": [],
                "request": request.__dict__}

    def _examples(self, graph, stats, cloud: Cloud) -> list:
        """Per node, its top classes' first input images (thumbnails served by the API)."""
        base = quote(base_dataset(cloud.dataset), safe="")
        examples = []
        for node in range(graph.n_nodes):
            members = graph.members(node)
            rows = []
            for label in np.argsort(-stats.class_counts[node], kind="stable")[:3]:
                if stats.class_counts[node, label] == 0:
                    break
                images = cloud.image[members[cloud.labels[members] == label]]
                chosen = list(dict.fromkeys(images.tolist()))[:EXAMPLES_PER_CLASS]
                rows.append([int(label), [[f"api/thumb?dataset={base}&image={i}", None]
                                          for i in chosen]])
            examples.append(rows)
        return examples

    def save(self, request: GraphRequest, stop: threading.Event | None = None
             ) -> dict[str, Any]:
        """Write the graph under results/live/{run}/{sampling}/{name}/{layer}.* (the JSON
        exports first, the zarr store last, each atomically under a name of its own)
        and the config lines. Saves of one graph take turns on its lock: a save that
        finds the graph saved already returns those files."""
        graph, stats, cloud = self.build(request, stop)
        request = replace(request, cloud=self.canonical(request.cloud))
        folder = self.results / "live" / cloud.run / cloud.sampling / request.name
        if not folder.resolve().is_relative_to(self.results / "live"):
            raise Problem(403, "the graph would be written outside results/live")
        base = folder / cloud.layer
        with locked(folder / f".{cloud.layer}.lock"):
            if not _saved(base):
                # Holding the lock, any partial file of this graph is a killed save's.
                for stale in folder.glob(f".{cloud.layer}.*.partial"):
                    shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
                self._write(base, request, graph, stats, cloud)
        written = [str(path.relative_to(self.results)) for path in graph_files(base)]
        return {"written": written, "yaml": config_lines(request, cloud, self.results)}

    def _write(self, base: Path, request: GraphRequest, graph, stats, cloud: Cloud) -> None:
        classes = cloud.classes
        meta = {"name": request.name, "layer": cloud.layer, "sampling": cloud.sampling,
                "source": request.cloud, "live": True}
        store.write_json(f"{base}.json", mapper.node_link(graph, stats, classes, meta),
                         private=True)
        store.write_json(f"{base}.kmapper.json", mapper.kmapper_json(graph, meta),
                         private=True)
        store.write_graph(f"{base}.zarr", graph, stats, {
            **store.provenance(dict(graph.params), {"points": request.cloud}, None), **meta,
            "classes": classes, "n_points": graph.n_points,
            "points_in_no_node": int((~graph.covered()).sum())}, private=True)

    def thumbnail(self, dataset: str, image: int) -> bytes:
        """One input image of a dataset's images store, as PNG."""
        path = inside(self.results, f"data/{dataset}.zarr")
        try:
            images = store.open_store(path, "images")["images"]
        except store.StoreError as error:
            raise Problem(404, str(error)) from error
        if not 0 <= image < images.shape[0]:
            raise Problem(404, f"{dataset} has no image {image}")
        buffer = io.BytesIO()
        Image.fromarray(images[image]).resize((64, 64), Image.NEAREST).save(buffer, "PNG")
        return buffer.getvalue()

    def status(self) -> dict[str, Any]:
        """What an operator (and the load test) reads of the server's state."""
        with self.guard:
            building, started = self.building, self.builds_started
        return {"torch_threads": torch.get_num_threads(), "workers": self.workers,
                "building": building, "builds_started": started,
                "max_build_s": self.max_build_s,
                "cache_bytes": self.clouds.total() + self.graphs.total(),
                "rss_mb": _rss_mb(), "peak_rss_mb": _peak_rss_mb(),
                "threads": threading.active_count()}


def _saved(base: Path) -> bool:
    """Whether a live graph's files are all in place (the store, written last, complete)."""
    try:
        store.open_store(f"{base}.zarr", "mapper")
    except store.StoreError:
        return False
    return all(path.exists() for path in graph_files(base))


def _rss_mb() -> float:
    """This process's resident memory now (Linux's /proc; the peak elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return _peak_rss_mb()
    return pages * resource.getpagesize() / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def config_lines(request: GraphRequest, cloud: Cloud, results: Path) -> str:
    """The config lines that make a live graph's parameters part of the workflow's grid
    (ε as `adaptive` where it is the layer's knee estimate, else `fixed`)."""
    estimate = epsilon_record(results, cloud.run, cloud.sampling, cloud.layer)
    adaptive = estimate.exists() and math.isclose(store.read_json(estimate)["epsilon"],
                                                  request.eps, rel_tol=1e-6)
    lines = ["mapper:", f"  samplings: [{cloud.sampling}]      # with the ones you have",
             f"  intervals: {request.intervals}",
             f"  overlaps: [{names.percent_label(100 * request.overlap)}]  # percent",
             f"  epsilons: [{'adaptive' if adaptive else 'fixed'}]"]
    if not adaptive:
        lines.append(f"  fixed_epsilon: {request.eps:.6g}")
    lines += [f"  min_samples: {request.min_samples}", f"  cover: {request.cover}"]
    if request.lens != "l2":
        lines.append(f"# lens {request.lens}: the workflow's activation graphs use l2")
    return "\n".join(lines) + "\n"


class TokenAndSize:
    """ASGI middleware: every request carries the token (header, cookie, or the page URL's
    ``?token=``), and no declared body is larger than :data:`MAX_BODY` (a chunked one is
    counted as it arrives: :func:`read_body`)."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        given = (request.headers.get("x-topoact-token") or request.cookies.get(COOKIE)
                 or (request.query_params.get("token") if request.url.path == "/" else None))
        declared = request.headers.get("content-length") or "0"
        if not given or not secrets.compare_digest(given, self.token):
            response = JSONResponse({"error": "missing or wrong token: open the URL "
                                              "`topoact serve` printed"}, status_code=401)
        elif not declared.isdigit() or int(declared) > MAX_BODY:
            response = JSONResponse({"error": f"request body over {MAX_BODY} bytes"},
                                    status_code=413)
        else:
            return await self.app(scope, receive, send)
        await response(scope, receive, send)


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request's body, counted as its chunks arrive: a 413 as soon as it passes
    ``limit``, without reading the rest."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def until_done_or_gone(request: Request, work: Callable[..., Any], *args: Any) -> Any:
    """Run ``work(*args, stop)`` in a worker thread while watching the connection: when
    the client leaves, ``stop`` is set and the work gives up at its next check."""
    stop = threading.Event()

    async def watch() -> None:
        while not stop.is_set():
            if await request.is_disconnected():
                stop.set()
                return
            await anyio.sleep(POLL_S)

    def attempt() -> tuple[Any, Exception | None]:
        try:
            return work(*args, stop), None
        except Exception as error:  # raised below, outside the task group's wrapping
            return None, error

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            value, error = await run_in_threadpool(attempt)
        finally:
            stop.set()  # ends the watcher
            group.cancel_scope.cancel()
    if error is not None:
        raise error
    return value


def _page() -> str:
    """The explorer's page with the live panel's script, loaded before explorer.js."""
    return render_page("index.html", live=True)


def create_app(results: str | Path, token: str, hosts: list[str], cache_mb: int = 1024,
               device: str = "cpu", max_build_s: float = MAX_BUILD_S,
               workers: int | None = None, pace: buildcost.Pace | None = None) -> Starlette:
    """The server's ASGI app over a results folder (see the module docstring)."""
    live = LiveGraphs(Path(results), cache_mb, device, max_build_s, workers, pace)
    site = live.results / "explorer"

    def refusing(handler):
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except Problem as problem:
                return JSONResponse({"error": str(problem)}, status_code=problem.status)
        return wrapped

    async def index(request: Request) -> Response:
        response = Response(_page(), media_type="text/html")
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name in ("explorer.js", "explorer.css", "live.js"):
            return FileResponse(ASSETS / name)
        if name == "data/manifest.js" and not (site / name).exists():
            return Response("window.TOPOACT_MANIFEST = {\"title\": \"TopoAct explorer (live)\", "
                            "\"graphs\": [], \"layers\": {}, \"profiles\": []};\n",
                            media_type="text/javascript")
        path = inside(site, name) if site.exists() else None
        if path is None or not path.is_file():
            raise Problem(404, f"no file {name!r} in the explorer")
        return FileResponse(path)

    async def clouds(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(list_clouds, live.results))

    async def curve(request: Request) -> Response:
        return JSONResponse(await until_done_or_gone(
            request, live.curve, request.query_params.get("cloud", "")))

    async def body(request: Request) -> Any:
        try:
            return json.loads(await read_body(request))
        except ValueError as error:
            raise Problem(400, f"the request body is not JSON: {error}") from error

    async def graph(request: Request) -> Response:
        parsed = parse_graph_request(await body(request))
        return JSONResponse(await until_done_or_gone(request, live.payload, parsed))

    async def save(request: Request) -> Response:
        parsed = parse_graph_request(await body(request))
        return JSONResponse(await until_done_or_gone(request, live.save, parsed))

    async def thumb(request: Request) -> Response:
        dataset, image = request.query_params.get("dataset", ""), request.query_params.get("image")
        if not image or not image.isdigit():
            raise Problem(400, f"image must be an index, got {image!r}")
        return Response(await run_in_threadpool(live.thumbnail, dataset, int(image)),
                        media_type="image/png")

    async def status(request: Request) -> Response:
        return JSONResponse(live.status())

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)  # no icon, and no 404 in the page's console

    routes = [Route("/", refusing(index)), Route("/api/clouds", refusing(clouds)),
              Route("/api/curve", refusing(curve)),
              Route("/api/graph", refusing(graph), methods=["POST"]),
              Route("/api/save", refusing(save), methods=["POST"]),
              Route("/api/thumb", refusing(thumb)), Route("/api/status", refusing(status)),
              Route("/favicon.ico", favicon),
              Route("/{name:path}", refusing(asset))]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
                  Middleware(TokenAndSize, token=token)]
    return Starlette(routes=routes, middleware=middleware)


def is_loopback(host: str) -> bool:
    """Whether an address (or ``localhost``) reaches this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, names: list[str] | None = None) -> list[str]:
    """The Host header values the server answers: the loopback names when bound to a
    loopback address, else the names given (``--allowed-host``), without which a
    non-loopback address is refused (DNS rebinding: any name would reach the server)."""
    names = list(names or [])
    if is_loopback(host):
        return sorted({host, "127.0.0.1", "localhost", *names})
    if not names:
        raise ValueError(
            f"--host {host} serves other machines, so the server must know the names "
            "they use for it: add --allowed-host NAME (repeatable). The safe default is "
            "127.0.0.1 and an SSH tunnel (docs/serve.md).")
    return sorted({*names, "127.0.0.1", "localhost"}) if host in ("0.0.0.0", "::") \
        else sorted(set(names))


def serve(results: str | Path = "results", host: str = "127.0.0.1", port: int = 8765,
          cache_mb: int = 1024, device: str = "cpu", token: str | None = None,
          hosts: list[str] | None = None, max_build_s: float = MAX_BUILD_S) -> None:
    """Run the server (until interrupted), printing the one URL to open."""
    import uvicorn

    results = Path(results)
    if not results.is_dir():
        raise ValueError(f"{results}: no such results folder (run the workflow first)")
    if max_build_s <= 0:
        raise ValueError(f"--max-build-s must be positive, got {max_build_s}")
    allowed = allowed_hosts(host, hosts)
    token = token or secrets.token_urlsafe(24)
    # Torch's thread count is process-wide: set once here, each build's intervals then
    # run on the cores as workers, and no request changes it.
    workers = torch.get_num_threads()
    torch.set_num_threads(1)
    limit_arenas(2)  # builds run on pool threads: without it, each keeps a heap's peak
    app = create_app(results, token, allowed, cache_mb, device, max_build_s, workers)
    shown = hosts[0] if hosts and host in ("0.0.0.0", "::") else host
    print(f"open http://{shown}:{port}/?token={token}", flush=True)
    print(f"builds estimated over {max_build_s:g} s are refused (--max-build-s); "
          f"{workers} engine workers", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
