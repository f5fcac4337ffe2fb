"""Files written whole or not at all, and JSON: the standard library only, so that a job
that only copies or reads small files (a layer pass's copies) loads nothing heavy.

Every output is written into a hidden sibling (``.{name}.partial``) and renamed into
place only when complete, so a killed job never leaves a file or folder that looks
finished. A workflow output has one writer (Snakemake's job); writers that may race
(the live server's saves) ask for a ``private`` sibling of their own
(``.{name}.{random}.partial``) and hold the target's :func:`locked` file for the whole
write. :mod:`topoact.store` builds its zarr stores on these.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class StoreError(ValueError):
    """A store is missing, unfinished, or not of the expected kind."""


def partial_path(path: str | os.PathLike, private: bool = False) -> Path:
    """The hidden sibling a store is written into before it is renamed into place (one
    of its own, with a random part, where ``private``)."""
    path = Path(path)
    tag = f".{secrets.token_hex(6)}" if private else ""
    return path.with_name(f".{path.name}{tag}.partial")


@contextmanager
def atomic_file(path: str | os.PathLike, private: bool = False) -> Iterator[Path]:
    """Yield a partial sibling to write a file into; rename it to ``path`` on success.

    On an exception the partial file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path, private)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


@contextmanager
def atomic_directory(path: str | os.PathLike, private: bool = False) -> Iterator[Path]:
    """Yield an empty partial sibling directory; rename it to ``path`` on success.

    For every output that is a folder (zarr stores, rendered images with their index):
    a killed job leaves only the hidden partial folder, never a half-filled ``path``.
    """
    path = Path(path)
    tmp = partial_path(path, private)
    # A leftover shared partial folder is from a killed run of this same job: start over.
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)


@contextmanager
def locked(lock_path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if missing): writers in
    other threads and processes of this machine take turns. Where the file system
    refuses locks (ENOLCK), go on without."""
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:  # closing it releases the lock
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            pass
        yield


def copy_output(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy a finished output (a file, or a store folder whole) to ``target`` through a
    partial sibling."""
    source = Path(source)
    if source.is_dir():
        with atomic_directory(target) as tmp:
            shutil.copytree(source, tmp, dirs_exist_ok=True)
    else:
        with atomic_file(target) as tmp:
            shutil.copyfile(source, tmp)


def write_json(path: str | os.PathLike, payload: Any, indent: int | None = None,
               private: bool = False) -> None:
    """Write JSON whole to a partial sibling, then rename it into place."""
    with atomic_file(path, private) as tmp:
        tmp.write_text(json.dumps(payload, indent=indent) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming the file when it is missing or malformed."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise StoreError(f"{path}: no such file") from None
    except json.JSONDecodeError as error:
        raise StoreError(f"{path}: not valid JSON ({error})") from error


def read_epsilon(json_path) -> float:
    """The ε recorded by :func:`topoact.steps.epsilon.epsilon_for_store`."""
    record = read_json(json_path)
    if not isinstance(record, dict) or "epsilon" not in record:
        raise StoreError(f"{json_path}: no 'epsilon' key (expected an ε estimate record)")
    return float(record["epsilon"])
