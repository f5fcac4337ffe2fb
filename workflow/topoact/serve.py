"""``topoact serve``: the explorer plus a local API that rebuilds any mapper graph live.

The page is the static explorer's (the same ``index.html``, ``explorer.js`` and style)
with a parameter panel (``live.js``): pick an activation cloud of the results folder, set
intervals, overlap, ε (a slider over the cloud's k-distance curve, the knee marked),
min_samples, cover and lens; the server builds the graph with the engine and the page
draws it. **Save** writes the graph (zarr, node-link JSON, KeplerMapper JSON, provenance)
under ``results/live/`` and shows the config lines that put it in the workflow's grid.

Security, for shared machines and clusters:

- binds to 127.0.0.1 unless told otherwise;
- a random token (in the printed URL) on every request: the page's URL carries it once,
  the server answers with an HttpOnly, SameSite=Strict cookie, and the page's API calls
  send it in a header; a missing or wrong token gets 401;
- the Host header must be the bound host (DNS rebinding gets 400);
- only paths inside the results folder are read (traversal, absolute paths and symlinks
  leaving it get 403), and only ``results/live/`` is written, each store atomically;
- parameters are validated (400 with the reason, shown on the page), request bodies are
  bounded (413), and each cloud builds one graph at a time (the others wait their turn).

Built graphs stay in a bounded LRU cache (by an estimate of their memory).
"""

from __future__ import annotations

import io
import json
import math
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from topoact import epsilon, mapper, names, store
from topoact.explorer import ASSETS, graph_view
from topoact.purity import mapper_purity, purity_record

#: Largest request body accepted (bytes).
MAX_BODY = 16 << 10
COOKIE = "topoact_token"
#: Live graphs' data examples: this many input images per top class.
EXAMPLES_PER_CLASS = 4


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

    def put(self, key, value, size: int) -> None:
        with self.lock:
            self.items[key], self.sizes[key] = value, size
            self.items.move_to_end(key)
            while sum(self.sizes.values()) > self.limit and len(self.items) > 1:
                oldest = next(iter(self.items))
                del self.items[oldest], self.sizes[oldest]


class LiveGraphs:
    """Loads clouds, builds graphs with the engine (one at a time per cloud), keeps them
    in a bounded cache and saves the ones a researcher keeps."""

    def __init__(self, results: Path, cache_mb: int = 1024, device: str = "cpu"):
        self.results = Path(results).resolve()
        self.device = device
        self.clouds = LRU(cache_mb << 19)   # half the budget for clouds, half for graphs
        self.graphs = LRU(cache_mb << 19)
        self.locks: dict[str, threading.Lock] = {}
        self.guard = threading.Lock()

    def cloud(self, relative: str) -> Cloud:
        path = inside(self.results, relative)
        if path.suffix != ".zarr" or not path.is_relative_to(self.results / "activations"):
            raise Problem(403, f"{relative!r} is not an activations store of the results")
        found = self.clouds.get(str(path))
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
            self.clouds.put(str(path), found, cloud.points.nbytes)
        return found

    def curve(self, relative: str) -> dict[str, Any]:
        """The cloud's ε at the knee and its sorted k-distance curve: the workflow's
        estimate where it made one, else the same estimator's (k = 5; clouds over 20,000
        points from k-means cells), computed once."""
        cloud = self.cloud(relative)
        key = ("curve", relative)
        found = self.graphs.get(key)
        if found is None:
            with self._lock(relative):
                recorded = epsilon_record(self.results, cloud.run, cloud.sampling, cloud.layer)
                record = (store.read_json(recorded) if recorded.exists() else
                          epsilon.estimate_epsilon(cloud.points, 5, max_points=20_000,
                                                   exact_below=20_000)[0].to_dict())
                found = {"epsilon": record["epsilon"], "k": record["k"],
                         "curve": record["curve"].get("sample"),
                         "from_workflow": recorded.exists()}
            self.graphs.put(key, found, 8 * len(found["curve"] or []))
        return found

    def _lock(self, cloud: str) -> threading.Lock:
        with self.guard:
            return self.locks.setdefault(cloud, threading.Lock())

    def build(self, request: GraphRequest) -> tuple[Any, Any, Cloud]:
        """The graph of a request (cached), its node stats and its cloud."""
        cached = self.graphs.get(request)
        if cached is not None:
            return cached
        cloud = self.cloud(request.cloud)
        with self._lock(request.cloud):  # one build per cloud; the others wait their turn
            cached = self.graphs.get(request)
            if cached is not None:
                return cached
            lens = mapper.make_lens(cloud.points, request.lens)
            try:
                graph = mapper.build_mapper(cloud.points, request.intervals, request.overlap,
                                            request.eps, request.min_samples, request.cover,
                                            lens=lens, device=self.device,
                                            lens_name=request.lens)
            except ValueError as error:
                raise Problem(400, str(error)) from error
            stats = mapper.node_stats(graph, cloud.points, cloud.labels, len(cloud.classes))
            found = (graph, stats, cloud)
            self.graphs.put(request, found, graph.indices.nbytes + stats.mean_activation.nbytes
                            + graph.lens.nbytes)
        return found

    def payload(self, request: GraphRequest) -> dict[str, Any]:
        """What the page draws of the request's graph (the explorer's graph view)."""
        graph, stats, cloud = self.build(request)
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
        base = cloud.dataset.split("-noise-")[0]
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

    def save(self, request: GraphRequest) -> dict[str, Any]:
        """Write the graph under results/live/{run}/{sampling}/{name}/{layer}.* (the JSON
        exports first, the zarr store last, each atomically) and the config lines."""
        graph, stats, cloud = self.build(request)
        folder = self.results / "live" / cloud.run / cloud.sampling / request.name
        if not folder.resolve().is_relative_to(self.results / "live"):
            raise Problem(403, "the graph would be written outside results/live")
        classes = cloud.classes
        meta = {"name": request.name, "layer": cloud.layer, "sampling": cloud.sampling,
                "source": request.cloud, "live": True}
        base = folder / cloud.layer
        store.write_json(f"{base}.json", mapper.node_link(graph, stats, classes, meta))
        store.write_json(f"{base}.kmapper.json", mapper.kmapper_json(graph, meta))
        store.write_graph(f"{base}.zarr", graph, stats, {
            **store.provenance(dict(graph.params), {"points": request.cloud}, None), **meta,
            "classes": classes, "n_points": graph.n_points,
            "points_in_no_node": int((~graph.covered()).sum())})
        written = [str(path.relative_to(self.results)) for path in mapper.graph_files(base)]
        return {"written": written, "yaml": config_lines(request, cloud, self.results)}

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
    ``?token=``), and no body is larger than :data:`MAX_BODY`."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        given = (request.headers.get("x-topoact-token") or request.cookies.get(COOKIE)
                 or (request.query_params.get("token") if request.url.path == "/" else None))
        if not given or not secrets.compare_digest(given, self.token):
            response = JSONResponse({"error": "missing or wrong token: open the URL "
                                              "`topoact serve` printed"}, status_code=401)
        elif int(request.headers.get("content-length") or 0) > MAX_BODY:
            response = JSONResponse({"error": f"request body over {MAX_BODY} bytes"},
                                    status_code=413)
        else:
            return await self.app(scope, receive, send)
        await response(scope, receive, send)


def _page() -> str:
    """The explorer's page with the live panel's script, loaded before explorer.js."""
    html = (ASSETS / "index.html").read_text()
    return html.replace('<script src="explorer.js"></script>',
                        '<script src="live.js"></script>\n<script src="explorer.js"></script>')


def create_app(results: str | Path, token: str, hosts: list[str], cache_mb: int = 1024,
               device: str = "cpu") -> Starlette:
    """The server's ASGI app over a results folder (see the module docstring)."""
    live = LiveGraphs(Path(results), cache_mb, device)
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
        return JSONResponse(await run_in_threadpool(live.curve,
                                                    request.query_params.get("cloud", "")))

    async def body(request: Request) -> Any:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise Problem(413, f"request body over {MAX_BODY} bytes")
        try:
            return json.loads(raw)
        except ValueError as error:
            raise Problem(400, f"the request body is not JSON: {error}") from error

    async def graph(request: Request) -> Response:
        parsed = parse_graph_request(await body(request))
        return JSONResponse(await run_in_threadpool(live.payload, parsed))

    async def save(request: Request) -> Response:
        parsed = parse_graph_request(await body(request))
        return JSONResponse(await run_in_threadpool(live.save, parsed))

    async def thumb(request: Request) -> Response:
        dataset, image = request.query_params.get("dataset", ""), request.query_params.get("image")
        if not image or not image.isdigit():
            raise Problem(400, f"image must be an index, got {image!r}")
        return Response(await run_in_threadpool(live.thumbnail, dataset, int(image)),
                        media_type="image/png")

    routes = [Route("/", refusing(index)), Route("/api/clouds", refusing(clouds)),
              Route("/api/curve", refusing(curve)),
              Route("/api/graph", refusing(graph), methods=["POST"]),
              Route("/api/save", refusing(save), methods=["POST"]),
              Route("/api/thumb", refusing(thumb)),
              Route("/{name:path}", refusing(asset))]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
                  Middleware(TokenAndSize, token=token)]
    return Starlette(routes=routes, middleware=middleware)


def serve(results: str | Path = "results", host: str = "127.0.0.1", port: int = 8765,
          cache_mb: int = 1024, device: str = "cpu", token: str | None = None) -> None:
    """Run the server (until interrupted), printing the one URL to open."""
    import uvicorn

    results = Path(results)
    if not results.is_dir():
        raise ValueError(f"{results}: no such results folder (run the workflow first)")
    token = token or secrets.token_urlsafe(24)
    hosts = sorted({host, "127.0.0.1", "localhost"}) if host in ("127.0.0.1", "localhost") \
        else [host]
    app = create_app(results, token, hosts, cache_mb, device)
    print(f"open http://{host}:{port}/?token={token}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
