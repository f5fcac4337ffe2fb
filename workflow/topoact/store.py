"""Reading and writing the zarr (v3) intermediates: the one module that touches zarr.

Every store is written into a hidden sibling directory (``.{name}.partial``) and
renamed into place only when complete, so a killed job never leaves a store that
looks finished; a store that is finished carries ``complete: true`` in its attributes.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from topoact import __version__
from topoact.files import StoreError as StoreError
from topoact.files import atomic_directory as atomic_directory
from topoact.files import atomic_file as atomic_file
from topoact.files import copy_output as copy_output
from topoact.files import partial_path as partial_path
from topoact.files import read_epsilon as read_epsilon
from topoact.files import read_json as read_json
from topoact.files import write_json as write_json
from topoact.graph import Cover, MapperGraph, NodeStats

# Snakemake drops a timestamp file into directory outputs; it is not part of the store.
warnings.filterwarnings("ignore", message=r"Object at \.snakemake_timestamp is not recognized")

#: Arrays each kind of store must hold (checked when a store is opened).
REQUIRED_ARRAYS = {
    "images": ("images", "labels"),
    "activations": ("points", "image", "position", "label"),
    "masks": ("masks",),
    "weight-snapshot": (),
    "weights": ("points", "seed", "out_channel", "in_channel"),
    "profiles": ("image", "label", "neurons_image", "neurons_layer", "neurons_neuron",
                 "neurons_count", "neurons_weight", "synapses_image", "synapses_source_layer",
                 "synapses_source", "synapses_target_layer", "synapses_target",
                 "synapses_weight"),
    "mapper": ("indptr", "indices", "interval", "lens", "cover_lower", "cover_upper", "edges",
               "intersection", "jaccard", "size", "mean_lens", "class_counts", "mean_activation"),
    # A grid split by intervals (topoact.shards): the plan of a cloud's shards, and one
    # shard's nodes.
    "mapper-shard-plan": ("lens", "rows", "rows_indptr", "cover_lower", "cover_upper"),
    "mapper-shard-nodes": ("indptr", "indices", "interval", "key_indptr"),
}


def provenance(params: dict[str, Any], sources: dict[str, str], seed: int | None) -> dict:
    """Attributes recording how a store was made.

    Parameters
    ----------
    params
        The scalar parameters of the job that made the store.
    sources
        Input paths by role (``{"images": "results/data/digits.zarr"}``).
    seed
        The random seed, or None when the step is not random.
    """
    return {
        "params": params,
        "sources": {role: str(path) for role, path in sources.items()},
        "seed": seed,
        "topoact_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


@contextmanager
def atomic_group(path: str | os.PathLike, kind: str, attrs: dict[str, Any],
                 private: bool = False) -> Iterator[zarr.Group]:
    """Create a zarr group that appears at ``path`` only if the block completes.

    Parameters
    ----------
    path
        Final location of the store (a directory, conventionally ``*.zarr``).
    kind
        What the store holds (``"images"``, ``"activations"``, ...); saved as an attribute
        and checked by :func:`open_store`.
    attrs
        Attributes to save (provenance and kind-specific metadata).
    private
        Write in a partial sibling of its own (writers that may race: see
        :mod:`topoact.files`).

    Yields
    ------
    zarr.Group
        The group to fill, living in the partial sibling directory.
    """
    with atomic_directory(path, private) as tmp:
        group = zarr.open_group(tmp, mode="w", zarr_format=3)
        group.attrs.update({"kind": kind, **attrs, "complete": False})
        yield group
        group.attrs["complete"] = True


def open_store(path: str | os.PathLike, kind: str) -> zarr.Group:
    """Open a finished store for reading, with a clear error when it is not one.

    Parameters
    ----------
    path
        The store's directory.
    kind
        The kind expected (a key of :data:`REQUIRED_ARRAYS`).

    Raises
    ------
    StoreError
        If the path does not exist, is not a zarr group, is of another kind, was
        not completed, or lacks one of the arrays its kind requires.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"{path}: no such store (expected a {kind} zarr store)")
    try:
        group = zarr.open_group(path, mode="r")
    except Exception as error:  # zarr raises several types for "not a group"
        raise StoreError(f"{path}: not a zarr group ({error})") from error
    found_kind = group.attrs.get("kind")
    if found_kind != kind:
        raise StoreError(f"{path}: holds kind {found_kind!r}, expected {kind!r}")
    if group.attrs.get("complete") is not True:
        raise StoreError(f"{path}: store was not completed (a killed job?); delete it and rerun")
    members = set(group.array_keys())
    missing = [name for name in REQUIRED_ARRAYS.get(kind, ()) if name not in members]
    if missing:
        raise StoreError(f"{path}: missing array(s) {missing}; a {kind} store needs "
                         f"{list(REQUIRED_ARRAYS[kind])}")
    return group


def store_kind(path: str | os.PathLike) -> str | None:
    """The ``kind`` attribute of a zarr group (None when it is not one or has none)."""
    try:
        return zarr.open_group(path, mode="r").attrs.get("kind")
    except Exception:  # zarr raises several types for "not a group"
        return None


def rows_per_chunk(row_bytes: int, chunk_bytes: int) -> int:
    """Rows in a chunk of about ``chunk_bytes`` (at least one row)."""
    return max(1, math.ceil(chunk_bytes / max(1, row_bytes)))


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ImageStoreInfo:
    """What an images store holds, without its pixels."""

    count: int
    shape: tuple[int, int, int]
    classes: list[str]
    splits: dict[str, tuple[int, int]]
    source: str


def write_images(path, batches, *, count: int, image_shape: tuple[int, int, int],
                 classes: list[str], splits: dict[str, tuple[int, int]], source: str,
                 attrs: dict[str, Any], chunk_images: int = 256) -> None:
    """Write an images store from a stream of ``(images, labels)`` batches.

    Parameters
    ----------
    path
        Destination ``*.zarr`` directory.
    batches
        Iterable of ``(uint8 array (B, H, W, 3), int array (B,))``, in index order.
    count
        Total number of images the batches yield.
    image_shape
        ``(H, W, 3)``.
    classes
        Class names in label index order.
    splits
        Split name to ``[start, stop)`` index range (each split is contiguous).
    source
        Where the images came from (a loader name and its origin).
    attrs
        Provenance attributes (see :func:`provenance`).
    chunk_images
        Images per chunk.
    """
    with atomic_group(path, "images", {**attrs, "classes": list(classes),
                                       "split": {k: list(v) for k, v in splits.items()},
                                       "source": source}) as group:
        images = group.create_array("images", shape=(count, *image_shape), dtype="uint8",
                                    chunks=(chunk_images, *image_shape))
        labels = group.create_array("labels", shape=(count,), dtype="int16",
                                    chunks=(max(count, 1),))
        start = 0
        for batch_images, batch_labels in batches:
            stop = start + len(batch_images)
            if stop > count:
                raise StoreError(f"{path}: the loader yielded more than the {count} images "
                                 "it announced")
            images[start:stop] = np.asarray(batch_images, dtype=np.uint8)
            labels[start:stop] = np.asarray(batch_labels, dtype=np.int16)
            start = stop
        if start != count:
            raise StoreError(f"{path}: the loader yielded {start} images, announced {count}")


def image_store_info(group: zarr.Group) -> ImageStoreInfo:
    """Metadata of an open images store."""
    attrs = group.attrs
    return ImageStoreInfo(
        count=int(group["images"].shape[0]),
        shape=tuple(int(s) for s in group["images"].shape[1:]),
        classes=list(attrs["classes"]),
        splits={name: (int(a), int(b)) for name, (a, b) in attrs["split"].items()},
        source=str(attrs["source"]),
    )


def split_range(info: ImageStoreInfo, split: str, path: str | os.PathLike = "") -> tuple[int, int]:
    """Index range ``[start, stop)`` of a split; ``"all"`` is every image.

    Raises
    ------
    StoreError
        If the store has no split of that name (the message lists those it has).
    """
    if split == "all":
        return 0, info.count
    if split not in info.splits:
        raise StoreError(f"{path or 'images store'}: no split {split!r}; it has "
                         f"{sorted([*info.splits, 'all'])}")
    return info.splits[split]


# --------------------------------------------------------------------------- activations


class ActivationWriter:
    """Append-only writer of an activations store with a known number of points.

    Rows are buffered and written a whole chunk at a time, so memory stays at one
    chunk plus one batch however large the cloud is.

    Parameters
    ----------
    group
        An empty group (from :func:`atomic_group`).
    total_points
        P, the number of rows that will be appended.
    channels
        C, the dimension of each activation vector.
    chunk_bytes
        Target size of one chunk of ``points`` (at least 1 MB is sensible).
    """

    def __init__(self, group: zarr.Group, total_points: int, channels: int,
                 chunk_bytes: int = 4 << 20):
        self.total_points = total_points
        self.chunk_rows = min(max(total_points, 1), rows_per_chunk(4 * channels, chunk_bytes))
        shape_rows = (total_points,)
        self.arrays = {
            "points": group.create_array("points", shape=(total_points, channels),
                                         dtype="float32", chunks=(self.chunk_rows, channels)),
            "image": group.create_array("image", shape=shape_rows, dtype="int32",
                                        chunks=(self.chunk_rows,)),
            "position": group.create_array("position", shape=(total_points, 2), dtype="int16",
                                           chunks=(self.chunk_rows, 2)),
            "label": group.create_array("label", shape=shape_rows, dtype="int16",
                                        chunks=(self.chunk_rows,)),
        }
        self._buffer: dict[str, list[np.ndarray]] = {name: [] for name in self.arrays}
        self._buffered = 0
        self.written = 0

    def append(self, points: np.ndarray, image: np.ndarray, position: np.ndarray,
               label: np.ndarray) -> None:
        """Append rows (all four arrays have the same number of rows)."""
        rows = {"points": points, "image": image, "position": position, "label": label}
        n = len(points)
        if any(len(a) != n for a in rows.values()):
            raise ValueError("points, image, position and label must have the same length")
        if self.written + self._buffered + n > self.total_points:
            raise StoreError(f"more than the {self.total_points} announced points appended")
        for name, values in rows.items():
            self._buffer[name].append(np.asarray(values))
        self._buffered += n
        if self._buffered >= self.chunk_rows:
            self._flush(whole_chunks_only=True)

    def _flush(self, whole_chunks_only: bool) -> None:
        if self._buffered == 0:
            return
        joined = {name: np.concatenate(parts) for name, parts in self._buffer.items()}
        take = self._buffered
        if whole_chunks_only:
            take = (self._buffered // self.chunk_rows) * self.chunk_rows
        start, stop = self.written, self.written + take
        for name, array in self.arrays.items():
            array[start:stop] = joined[name][:take]
        self._buffer = {name: [values[take:]] for name, values in joined.items()}
        self._buffered -= take
        self.written = stop

    def close(self) -> None:
        """Write what is buffered and check that every announced point arrived."""
        self._flush(whole_chunks_only=False)
        if self.written != self.total_points:
            raise StoreError(f"{self.written} points written, {self.total_points} announced")


@dataclass
class ActivationCloud:
    """An activations store read into memory."""

    points: np.ndarray
    image: np.ndarray
    position: np.ndarray
    label: np.ndarray
    attrs: dict[str, Any]


def read_activations(path: str | os.PathLike) -> ActivationCloud:
    """Read a whole activations store (points, image, position, label and attributes)."""
    group = open_store(path, "activations")
    return ActivationCloud(
        points=group["points"][:],
        image=group["image"][:],
        position=group["position"][:],
        label=group["label"][:],
        attrs=dict(group.attrs),
    )


# --------------------------------------------------------------------------- JSON


def read_activation_rows(path: str | os.PathLike, rows: np.ndarray) -> np.ndarray:
    """The points of some rows of an activations store (``rows`` ascending), read chunk
    by chunk: a shard of a cloud larger than memory holds only its rows."""
    return read_rows(path, "activations", "points", rows)


def read_rows(path: str | os.PathLike, kind: str, name: str, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` (ascending, distinct) of array ``name`` of a ``kind`` store."""
    array = open_store(path, kind)[name]
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) and (rows[0] < 0 or rows[-1] >= array.shape[0] or (np.diff(rows) <= 0).any()):
        raise StoreError(f"{path}: rows must be ascending, distinct and in [0, "
                         f"{array.shape[0]})")
    return array.get_orthogonal_selection((rows, *(slice(None),) * (array.ndim - 1)))


def activation_chunks(path: str | os.PathLike, name: str = "points"
                      ) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, rows)`` of an activations store's array, one stored chunk at a time:
    a pass over a cloud larger than memory."""
    array = open_store(path, "activations")[name]
    step = array.chunks[0]
    for start in range(0, array.shape[0], step):
        yield start, array[start:start + step]


def write_arrays(path: str | os.PathLike, kind: str, arrays: dict[str, np.ndarray],
                 attrs: dict[str, Any], private: bool = False) -> None:
    """A store of ``kind`` holding ``arrays`` (chunks of about 4 MB) and ``attrs``
    (``private``: see :func:`atomic_group`)."""
    with atomic_group(path, kind, attrs, private) as group:
        for name, values in arrays.items():
            values = np.asarray(values)
            row_bytes = max(values.itemsize * int(np.prod(values.shape[1:])), 1)
            chunks = (min(max(len(values), 1), rows_per_chunk(row_bytes, 4 << 20)),
                      *values.shape[1:])
            group.create_array(name, shape=values.shape, dtype=values.dtype,
                               chunks=chunks)[...] = values


def read_arrays(path: str | os.PathLike, kind: str, names: tuple[str, ...] | None = None
                ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays ``names`` (default: every array) of a ``kind`` store, and its attributes."""
    group = open_store(path, kind)
    names = tuple(group.array_keys()) if names is None else names
    return {name: group[name][...] for name in names}, dict(group.attrs)


def write_tsv(table, path: str | os.PathLike) -> None:
    """Write a pandas table as TSV (header row), whole, then rename it into place."""
    with atomic_file(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)


# --------------------------------------------------------------------------- mapper graphs


def write_graph(path: str | os.PathLike, graph, stats, attrs: dict[str, Any],
                private: bool = False) -> None:
    """Write a mapper graph (CSR membership, node stats, edges) as a zarr store
    (``private``: see :func:`atomic_group`)."""
    arrays = {
        **({} if stats.position is None else {"position": stats.position}),
        "indptr": graph.indptr, "indices": graph.indices, "interval": graph.interval,
        "lens": graph.lens, "cover_lower": graph.cover.lower, "cover_upper": graph.cover.upper,
        "edges": graph.edges, "intersection": graph.intersection, "jaccard": graph.jaccard,
        "size": stats.size, "mean_lens": stats.mean_lens, "class_counts": stats.class_counts,
        "mean_activation": stats.mean_activation,
    }
    # A product cover's shape (a 2-D lens's) is kept, so that its cubes' members are
    # found from the coordinates again when the graph is read (stability's rebuild).
    shape = {"cover_shape": list(graph.cover.shape)} if graph.cover.shape else {}
    write_arrays(path, "mapper", arrays, {**attrs, "graph_params": graph.params,
                                          "cover_mode": graph.cover.mode, **shape}, private)


def read_graph(path: str | os.PathLike):
    """Read a mapper graph store: ``(MapperGraph, NodeStats, attrs)``."""
    group = open_store(path, "mapper")
    a = {name: group[name][...] for name in REQUIRED_ARRAYS["mapper"]}
    attrs = dict(group.attrs)
    graph = MapperGraph(indptr=a["indptr"], indices=a["indices"], interval=a["interval"],
                        cover=Cover(a["cover_lower"], a["cover_upper"], attrs["cover_mode"],
                                    tuple(attrs.get("cover_shape", ()))),
                        lens=a["lens"], edges=a["edges"], intersection=a["intersection"],
                        jaccard=a["jaccard"], params=attrs["graph_params"])
    stats = NodeStats(size=a["size"], mean_lens=a["mean_lens"], class_counts=a["class_counts"],
                      mean_activation=a["mean_activation"],
                      position=group["position"][...] if "position" in group else None)
    return graph, stats, attrs


# --------------------------------------------------------------------------- weight space


def write_weight_snapshot(path: str | os.PathLike, layers: dict[str, np.ndarray],
                          attrs: dict[str, Any]) -> None:
    """Write the conv weights of one snapshot: an array per layer, (trainings, O, I, kh, kw)."""
    with atomic_group(path, "weight-snapshot", attrs) as group:
        for layer, weights in layers.items():
            weights = np.asarray(weights, dtype=np.float32)
            group.create_array(f"layers/{layer}", shape=weights.shape, dtype=weights.dtype,
                               chunks=weights.shape)[...] = weights


def read_weight_snapshot(path: str | os.PathLike, layer: str) -> tuple[np.ndarray, dict]:
    """One layer's weights of a snapshot store and the store's attributes."""
    group = open_store(path, "weight-snapshot")
    if f"layers/{layer}" not in group:
        raise StoreError(f"{path}: no weights of layer {layer!r} (it holds "
                         f"{sorted(group['layers'].array_keys())})")
    return group[f"layers/{layer}"][...], dict(group.attrs)


def write_weight_points(path: str | os.PathLike, points: np.ndarray,
                        arrays: dict[str, np.ndarray], attrs: dict[str, Any]) -> None:
    """Write a weight-space cloud: ``points`` (P, k²) float32 and per-point arrays
    (``seed``, ``out_channel``, ``in_channel``, ...), with provenance."""
    with atomic_group(path, "weights", attrs) as group:
        for name, values in {"points": np.asarray(points, dtype=np.float32), **arrays}.items():
            values = np.asarray(values)
            group.create_array(name, shape=values.shape, dtype=values.dtype,
                               chunks=(max(len(values), 1), *values.shape[1:]))[...] = values


def read_weight_points(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, np.ndarray], dict]:
    """A weight-space cloud: ``(points, {name: per-point array}, attrs)``."""
    group = open_store(path, "weights")
    arrays = {name: group[name][...] for name in group.array_keys() if name != "points"}
    return group["points"][...], arrays, dict(group.attrs)


def point_sources(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Of each point of a cloud, where it comes from and its label: (image, label) of an
    activations store; (training seed, rank of that seed) of a weights store."""
    if store_kind(path) == "weights":
        group = open_store(path, "weights")
        seed = group["seed"][...]
        return seed, training_rank(seed, group.attrs["seeds"])
    group = open_store(path, "activations")
    return group["image"][...], group["label"][...]


def training_rank(seed: np.ndarray, seeds) -> np.ndarray:
    """The label of each weight-space point: the rank of its training's seed in ``seeds``
    (the class ``training {seed}`` of the graphs and the explorer)."""
    return np.searchsorted(np.asarray(seeds), np.asarray(seed))


# --------------------------------------------------------------------------- profiles


def write_profiles(path: str | os.PathLike, tables: dict[str, np.ndarray],
                   attrs: dict[str, Any]) -> None:
    """Write a profiles store: per image ``image`` (dataset index) and ``label``; sparse
    ``neurons_*`` and ``synapses_*`` tables whose ``*_image`` column is the image's row."""
    with atomic_group(path, "profiles", attrs) as group:
        for name, values in tables.items():
            values = np.asarray(values)
            group.create_array(name, shape=values.shape, dtype=values.dtype,
                               chunks=(max(len(values), 1),))[...] = values


def read_profiles(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """A profiles store's tables (every array) and attributes."""
    group = open_store(path, "profiles")
    return {name: group[name][...] for name in group.array_keys()}, dict(group.attrs)


def load_points(path: str | os.PathLike
                ) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Points (and labels, class names when known) from an activations store or a .npy file.

    Raises
    ------
    StoreError
        When a ``.npy`` file is not a numpy array, or is not 2-D.
    """
    path = Path(path)
    if path.suffix == ".npy":
        try:
            points = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise StoreError(f"{path}: no such file (expected an (N, C) .npy array)") from None
        except (ValueError, OSError, EOFError):
            # numpy's own message speaks of pickles, which would mislead here
            raise StoreError(f"{path}: not a numpy array file (expected an (N, C) array "
                             "written by numpy.save)") from None
        if points.ndim != 2:
            raise StoreError(f"{path}: expected a 2-D (N, C) array, got shape {points.shape}")
        return points, None, None
    if store_kind(path) == "weights":
        return read_weight_points(path)[0], None, None
    return (open_store(path, "activations")["points"][:], *load_labels(path))


def load_labels(path: str | os.PathLike) -> tuple[np.ndarray, list[str] | None]:
    """An activations store's labels, and its class names when known."""
    group = open_store(path, "activations")
    return group["label"][:], list(group.attrs.get("classes", [])) or None
