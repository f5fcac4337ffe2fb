"""Compare two runs' results folders file by file (the evidence behind "same outputs").

Every file of either tree is compared: byte for byte, or, for JSON (a zarr store's
``zarr.json`` included), as data with the keys that record when and how fast a file was
made left out (``created``, ``seconds``, a pass cache's file identities). Prints the
counts and the differing paths grouped by their first two folders:

    .venv/bin/python bench/compare_runs.py RESULTS_A RESULTS_B [--skip logs benchmarks]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

#: Keys that differ between two runs of the same outputs.
VOLATILE = {"created", "seconds", "identity"}


def strip(value):
    """JSON data without the volatile keys, at any depth."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def same(a: Path, b: Path) -> bool:
    if a.read_bytes() == b.read_bytes():
        return True
    if a.suffix == ".json":
        try:
            return strip(json.loads(a.read_text())) == strip(json.loads(b.read_text()))
        except (ValueError, UnicodeDecodeError):
            return False
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--skip", nargs="*", default=["logs", "benchmarks"],
                        help="top folders left out (default: logs benchmarks)")
    args = parser.parse_args()

    def files(root: Path) -> set[Path]:
        return {p.relative_to(root) for p in root.rglob("*") if p.is_file()
                and p.parts[len(root.parts)] not in args.skip
                and p.name != ".snakemake_timestamp"}

    in_a, in_b = files(args.a), files(args.b)
    both = sorted(in_a & in_b)
    differ = [p for p in both if not same(args.a / p, args.b / p)]
    print(f"{len(both):,} files in both, {len(both) - len(differ):,} the same, "
          f"{len(differ):,} differ; {len(in_a - in_b):,} only in {args.a}, "
          f"{len(in_b - in_a):,} only in {args.b}")
    for title, paths in (("differ", differ), (f"only in {args.a}", sorted(in_a - in_b)),
                         (f"only in {args.b}", sorted(in_b - in_a))):
        groups = Counter("/".join(p.parts[:2]) for p in paths)
        for group, count in sorted(groups.items()):
            print(f"  {title}: {group}/… {count:,}")


if __name__ == "__main__":
    main()
