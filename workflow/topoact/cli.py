"""The ``topoact`` command line: inspect stores, list layers, check configs.

The commands that need torch import their modules themselves, so that ``info``,
``check-config`` and ``--help`` answer without loading it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml
import zarr

from topoact import __version__, data, epsilon, homology, mapper, plots, rehearsal
from topoact.config import SCHEMA, ConfigError, validate_config
from topoact.devices import resolve_device
from topoact.graph import EngineOptions
from topoact.names import COVERS, LENSES
from topoact.store import load_points, write_json
from topoact.validation import check_finite
from topoact.weights import topology


def _load_cloud(path: str) -> tuple[np.ndarray, np.ndarray | None, list | None]:
    """A cloud's points, labels and classes, refused (naming the file and the first bad
    rows) if any value is NaN or infinite."""
    points, labels, classes = load_points(path)
    check_finite(points, f"{path}: points")
    return points, labels, classes


def _layers(args: argparse.Namespace) -> int:
    from topoact import models

    if args.model or args.spec:
        return _module_paths(args)
    names = [args.architecture] if args.architecture else sorted(models.ARCHITECTURES)
    for name in names:
        arch = models.get_architecture(name)
        shapes = models.layer_shapes(arch.build(10), arch.layers, arch.input_size)
        print(f"{name}: {arch.description}")
        for layer, module in arch.layers.items():
            print(f"  {layer:<12} module {module:<16} activation {tuple(shapes[layer])}")
    return 0


def _module_paths(args: argparse.Namespace) -> int:
    """Every module path of a configured or described model, with its output shape."""
    from topoact import models

    if args.model:
        config = yaml.safe_load(Path(args.config).read_text())
        validate_config(config, SCHEMA, args.config)
        if args.model not in config["models"]:
            raise ValueError(f"{args.config}: no model {args.model!r}; it defines "
                             f"{sorted(config['models'])}")
        entry = config["models"][args.model]
    else:
        entry = {"architecture": args.spec, "kwargs": json.loads(args.kwargs),
                 "input_size": args.input_size, "weights": args.weights,
                 "normalize": None}
    arch = models.architecture_of(entry)
    model = arch.build(10)
    if entry.get("weights") and arch.spec is not None and arch.name != models.TORCHSCRIPT:
        models.load_weights(arch.network(model), entry["weights"])
    size = entry.get("input_size") or arch.input_size
    print(f"{arch.name}: module paths and output shapes for a {size} px input")
    for path, kind, shape in models.module_shapes(model, size, arch.prefix):
        print(f"  {path:<40} {kind:<22} {shape}")
    return 0


def _info(args: argparse.Namespace) -> int:
    group = zarr.open_group(args.store, mode="r")
    attrs = dict(group.attrs)
    print(f"{args.store}: kind {attrs.get('kind')!r}, complete {attrs.get('complete')}")
    for name in sorted(group.array_keys()):
        array = group[name]
        print(f"  {name:<10} {str(array.dtype):<8} shape {array.shape} chunks {array.chunks}")
    if args.attrs:
        print(json.dumps(attrs, indent=2))
    return 0


def _check_config(args: argparse.Namespace) -> int:
    config = yaml.safe_load(Path(args.config).read_text()) or {}
    try:
        validate_config(config, SCHEMA, str(args.config))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{args.config}: valid")
    if args.show:
        print(yaml.safe_dump(config, sort_keys=False))
    return 0


def _rehearse(args: argparse.Namespace) -> int:
    for path in rehearsal.prepare(args.preset, args.root):
        print(path)
    print(f"now: snakemake --configfile config/{args.preset}.yaml "
          f"config/rehearsal/{args.preset}.yaml --cores all")
    return 0


def _add_rehearse_parser(commands) -> None:
    rehearse = commands.add_parser(
        "rehearse", help="write a preset's rehearsal inputs (generated data, random weights)",
        description="Write what config/rehearsal/PRESET.yaml reads (kept where it exists), "
                    "then run: snakemake --configfile config/PRESET.yaml "
                    "config/rehearsal/PRESET.yaml --cores all")
    rehearse.add_argument("preset", help="topoact, purvine or generalization")
    rehearse.add_argument("--root", default="rehearsal",
                          help="where to write (default: %(default)s)")
    rehearse.set_defaults(run=_rehearse)


def _epsilon(args: argparse.Namespace) -> int:
    points, _, _ = _load_cloud(args.points)
    estimate, curve = epsilon.estimate_epsilon(points, args.k, args.max_points or None,
                                               args.seed, args.threads, args.exact_below,
                                               args.large_clouds, args.device)
    print(f"epsilon = {estimate.epsilon:.6g}  (k = {args.k}, self counted, "
          f"{estimate.neighbours}; knee at "
          f"{estimate.curve['knee_fraction']:.1%} of {estimate.points_used:,} points"
          f"{', subsampled' if estimate.subsampled else ''})")
    if args.json:
        write_json(args.json, estimate.to_dict(), indent=2)
    if args.plot:
        plots.plot_k_distance(curve, estimate, args.plot, f"{args.points}")
    return 0


def _mapper(args: argparse.Namespace) -> int:
    points, labels, classes = _load_cloud(args.points)
    if args.labels:
        labels = np.load(args.labels)
        if len(labels) != len(points):
            raise SystemExit(f"{args.labels}: {len(labels)} labels for {len(points)} points")
        classes = None
    if labels is None:
        labels, classes = np.zeros(len(points), dtype=np.int64), ["unlabelled"]
    labels = np.asarray(labels, dtype=np.int64)
    classes = classes or [str(k) for k in range(int(labels.max()) + 1)]
    lens = mapper.make_lens(points, args.lens, args.density_k)
    graph = mapper.build_mapper(points, args.intervals, args.overlap, args.eps,
                                args.min_samples, args.cover, lens=lens, lens_name=args.lens,
                                engine=EngineOptions(device=resolve_device(args.device),
                                                     progress=True))
    meta = {"source": str(args.points)}
    if args.format == "kmapper":
        payload = mapper.kmapper_json(graph, meta)
    else:
        stats = mapper.node_stats(graph, points, labels, len(classes))
        payload = mapper.node_link(graph, stats, classes, meta)
    write_json(args.out, payload)
    uncovered = int((~graph.covered()).sum())
    print(f"{graph.n_nodes} nodes, {len(graph.edges)} edges; {uncovered:,} of "
          f"{graph.n_points:,} points in no node -> {args.out}")
    return 0


def _barcode(args: argparse.Namespace) -> int:
    points, _, _ = _load_cloud(args.points)
    index = np.arange(len(points))
    if args.keep < 1.0:
        index, _ = topology.density_filter(points, args.density_k, args.keep)
    diagrams = homology.persistence(points[index], args.maxdim)
    bars = {f"h{d}": topology.longest_bars(diagram) for d, diagram in enumerate(diagrams)}
    for name, record in bars.items():
        longest = ", ".join(f"{v:.4g}" for v in record["longest"][:3])
        print(f"{name.upper()}: {record['bars']} finite bars; longest {longest or '-'}; "
              f"longest / next = {record['ratio']:.3g}")
    if args.json:
        write_json(args.json, {"points": len(points), "kept": len(index),
                               "density_k": args.density_k, "keep": args.keep, **bars,
                               "diagrams": [d.tolist() for d in diagrams]}, indent=2)
    if args.plot:
        plots.plot_barcode_grid({f"{args.points}: X({args.density_k}, {args.keep:.0%}), "
                                 f"{len(index)} points": diagrams}, args.plot, columns=1)
    return 0


def _stability(args: argparse.Namespace) -> int:
    from topoact import stability

    points = _load_cloud(args.points)[0]
    lens = mapper.make_lens(points, args.lens, args.density_k)
    engine = EngineOptions(device=resolve_device(args.device))
    graph = mapper.build_mapper(points, args.intervals, args.overlap, args.eps,
                                args.min_samples, args.cover, lens=lens, lens_name=args.lens,
                                engine=engine)
    result = stability.graph_stability(graph, points, args.bootstrap, args.confidence,
                                       args.seed, engine=replace(engine, progress=True))
    table = stability.feature_table(result)
    if graph.n_nodes == 0:
        print(f"0 nodes: no interval has a DBSCAN cluster at ε = {args.eps:g} with "
              f"min_samples = {args.min_samples} (every point is noise), so there are no "
              f"features and no bootstrap. ε is below this cloud's scale: `topoact epsilon "
              f"{args.points}` gives its k-distance knee.")
    else:
        print(f"{graph.n_nodes} nodes, {len(graph.edges)} edges; d_α = {result.d_alpha:.4g} "
              f"at {args.confidence:.0%} from {args.bootstrap} resamples")
    for row in table.itertuples():
        print(f"  {row.kind:16s} {row.birth:10.4g} -> {row.death:10.4g}  confidence "
              f"{row.confidence:.2f}  {'significant' if row.significant else ''}")
    if args.json:
        write_json(args.json, stability.stability_record(result, {
            "source": str(args.points), **graph.params}), indent=2)
    if args.plot:
        plots.plot_extended_diagram(table, result.distances, result.d_alpha, args.confidence,
                                    args.plot, title=str(args.points))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from topoact import serve

    serve.serve(args.results, args.host, args.port, args.cache_mb,
                str(resolve_device(args.device)), hosts=args.allowed_host,
                max_build_s=args.max_build_s)
    return 0


def _add_serve_parser(commands) -> None:
    """``topoact serve``: the explorer with a live parameter panel."""
    parser = commands.add_parser(
        "serve", help="the explorer plus a local API that rebuilds any graph live")
    parser.add_argument("results", nargs="?", default="results",
                        help="the workflow's results folder (default: results)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only; "
                             "another needs --allowed-host)")
    parser.add_argument("--allowed-host", action="append", metavar="NAME",
                        help="a host name clients use for the server (repeatable); "
                             "required to bind a non-loopback address")
    parser.add_argument("--max-build-s", type=float, default=30.0,
                        help="refuse a graph whose estimated build time is over this, "
                             "and stop one that runs past it (default 30 s)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--cache-mb", type=int, default=1024,
                        help="memory for loaded clouds and built graphs (default 1024 MB)")
    parser.add_argument("--device", default="auto", help="the engine's device: auto, cpu, cuda")
    parser.set_defaults(run=_serve)


def _add_graph_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of one mapper graph, as ``mapper`` and ``stability`` take them (the
    workflow's defaults: 70 intervals, 30 % overlap, min_samples 5, the exact cover)."""
    parser.add_argument("points", help="an activations store (*.zarr) or an (N, C) .npy array")
    parser.add_argument("--intervals", type=int, default=70, help="cover intervals (default 70)")
    parser.add_argument("--overlap", type=float, default=0.3,
                        help="overlap of adjacent intervals as a fraction, like KeplerMapper's "
                             "perc_overlap (default 0.3)")
    parser.add_argument("--eps", type=float, required=True, help="DBSCAN ε")
    parser.add_argument("--min-samples", type=int, default=5, help="DBSCAN min_samples")
    parser.add_argument("--cover", choices=COVERS, default="exact")
    parser.add_argument("--lens", choices=LENSES, default="l2",
                        help="ℓ2 norm (default), first one or two principal components (pca2: "
                             "an intervals × intervals cover), or the codensity")
    parser.add_argument("--density-k", type=int, default=15,
                        help="k of the codensity lens (distance to the k-th neighbour)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                        help="where the engine computes distances (default auto)")


def _add_stability_parser(commands) -> None:
    """``topoact stability``: a graph's significant features, for any cloud."""
    parser = commands.add_parser(
        "stability", help="bootstrap significance of a mapper graph's loops and branches")
    _add_graph_arguments(parser)
    parser.add_argument("--bootstrap", type=int, default=100, help="resamples B (default 100)")
    parser.add_argument("--confidence", type=float, default=0.9, help="α (default 0.9)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    parser.add_argument("--json", help="write the record (features with their nodes) here")
    parser.add_argument("--plot", help="write the diagram figure (PNG) here")
    parser.set_defaults(run=_stability)


def _profile(args: argparse.Namespace) -> int:
    import torch

    from topoact.profiles import build

    model, size = build.model_for_profiling(args.arch, args.weights, args.classes)
    size = args.size or size
    if not Path(args.image).is_file():
        raise FileNotFoundError(f"{args.image}: no such image")
    pixels = data.resize_crop(Path(args.image), round(size * 256 / 224), size)
    x = torch.from_numpy(pixels.copy()).permute(2, 0, 1).unsqueeze(0).float() / 255
    (profile,), layers = build.profile_images(model, x, threshold=args.threshold,
                                              neuron=args.neuron, inplace_add=args.inplace_add)
    payload = build.profile_payload(profile, layers)
    with torch.no_grad():
        predicted = int(model(x).argmax())
    weights = args.weights or "random weights (seed 0)"
    print(f"{args.arch} ({weights}) on {args.image}, predicted class {predicted}: "
          f"{len(payload['neurons'])} neurons, {len(payload['synapses'])} synapses over "
          f"{len(layers)} layers ({args.neuron}, threshold {args.threshold})")
    for record in payload["layers"]:
        print(f"  {record['index']:>3} {record['kind']:<8} {record['name']:<28} "
              f"{record['profile_neurons']:>5} neurons")
    if args.json:
        write_json(args.json, {"architecture": args.arch, "image": str(args.image),
                               "weights": str(args.weights) if args.weights else None,
                               "neuron": args.neuron, "threshold": args.threshold,
                               "inplace_add": args.inplace_add, "predicted": predicted,
                               **payload})
    return 0


def _add_profile_parser(commands) -> None:
    """``topoact profile``: the DeepDataProfiler profile of one image."""
    profile = commands.add_parser(
        "profile", help="the DeepDataProfiler profile of one image (neurons and synapses)")
    profile.add_argument("--arch", required=True,
                         help="an architecture of `topoact layers` or a torchvision model name")
    profile.add_argument("--weights", help="a checkpoint (the workflow's seed-N.pt or a "
                                           "state_dict); default: random weights (seed 0)")
    profile.add_argument("--classes", type=int, default=1000,
                         help="classes of the checkpoint's model (default 1000)")
    profile.add_argument("--image", required=True, help="an image file (any PIL format)")
    profile.add_argument("--size", type=int, help="input side (default: the model's)")
    profile.add_argument("--neuron", default="channel", help="channel (default) or element")
    profile.add_argument("--threshold", type=float, default=0.1,
                         help="DDP's share of the total kept, plus one more (default 0.1)")
    profile.add_argument("--inplace-add", action="store_true",
                         help="read residual adds as DDP 2.0.1 does on torchvision ResNets")
    profile.add_argument("--json", help="write the profile here")
    profile.set_defaults(run=_profile)


def _add_barcode_parser(commands) -> None:
    """``topoact barcode``: ripser's barcode of a cloud or of its dense core."""
    barcode = commands.add_parser(
        "barcode", help="persistence barcode (ripser) of a cloud, optionally of its dense core")
    barcode.add_argument("points", help="a points store (*.zarr) or an (N, C) .npy array")
    barcode.add_argument("--density-k", type=int, default=15,
                         help="k of the codensity (distance to the k-th neighbour; default 15)")
    barcode.add_argument("--keep", type=float, default=1.0,
                         help="fraction of densest points kept, X(k, p) (default 1 = all)")
    barcode.add_argument("--maxdim", type=int, default=1, help="highest homology dimension")
    barcode.add_argument("--json", help="write the bars and diagrams here")
    barcode.add_argument("--plot", help="write the barcode figure (PNG) here")
    barcode.set_defaults(run=_barcode)



def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``topoact`` (one subcommand per task)."""
    parser = argparse.ArgumentParser(
        prog="topoact",
        description="Topological summaries of CNN activations. The workflow runs with "
                    "`snakemake --cores all`; these commands work on its files directly.")
    parser.add_argument("--version", action="version", version=f"topoact {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    layers = commands.add_parser("layers", help="list the readable layer names of architectures")
    layers.add_argument("architecture", nargs="?", help="one architecture (default: all)")
    layers.add_argument("--model", help="list every module path of this model of --config")
    layers.add_argument("--config", default="config.yaml", help="config of --model")
    layers.add_argument("--spec",
                        help="or every module path of this architecture: "
                             "package.module:callable, timm:NAME, torchscript (with --weights) "
                             "or a built-in")
    layers.add_argument("--kwargs", default="{}", help="JSON keyword arguments of --spec")
    layers.add_argument("--weights", help="a state_dict for --spec")
    layers.add_argument("--input-size", type=int, default=224, help="input side for --spec")
    layers.set_defaults(run=_layers)

    info = commands.add_parser("info", help="summarise a zarr store (images, activations, ...)")
    info.add_argument("store", help="path of a *.zarr store")
    info.add_argument("--attrs", action="store_true", help="also print its attributes (JSON)")
    info.set_defaults(run=_info)

    eps = commands.add_parser("epsilon", help="estimate DBSCAN ε at the knee of the k-distances")
    eps.add_argument("points", help="an activations store (*.zarr) or an (N, C) .npy array")
    eps.add_argument("--k", type=int, default=5,
                     help="neighbours counting the point itself (= min_samples; default 5)")
    eps.add_argument("--max-points", type=int, default=50_000,
                     help="larger clouds get k-distances as --large-clouds says "
                          "(default 50000; 0 = never)")
    eps.add_argument("--large-clouds", choices=["cells", "queries"], default="cells",
                     help="cells: every point's, from its nearest k-means cells, the largest "
                          "made exact (default); queries: --max-points sampled points' exact")
    eps.add_argument("--exact-below", type=int, default=20_000,
                     help="clouds up to this size get exact k-NN instead of PyNNDescent "
                          "(default 20000; 0 = always PyNNDescent)")
    eps.add_argument("--seed", type=int, default=0)
    eps.add_argument("--threads", type=int, default=1)
    eps.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                     help="where the k-means cells or queries are searched (default auto)")
    eps.add_argument("--json", help="write the estimate record here")
    eps.add_argument("--plot", help="write the sorted k-distance plot (PNG) here")
    eps.set_defaults(run=_epsilon)

    graph = commands.add_parser("mapper", help="build a mapper graph of a point cloud")
    _add_graph_arguments(graph)
    graph.add_argument("--labels", help="(N,) .npy of class labels (a store has its own)")
    graph.add_argument("--format", choices=["topoact", "kmapper"], default="topoact",
                       help="node-link JSON with TopoAct's fields, or KeplerMapper's dict")
    graph.add_argument("--out", required=True, help="output JSON path")
    graph.set_defaults(run=_mapper)

    _add_barcode_parser(commands)
    _add_profile_parser(commands)
    _add_stability_parser(commands)
    _add_serve_parser(commands)

    _add_rehearse_parser(commands)

    check = commands.add_parser("check-config", help="validate a workflow config file")
    check.add_argument("config", help="path of a config YAML")
    check.add_argument("--show", action="store_true", help="print it with defaults filled in")
    check.set_defaults(run=_check_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``topoact`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as error:  # bad input: a message, not a traceback
        print(f"topoact {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
