"""The README's findings, recomputed from a run's outputs (and checked against the docs).

Every figure the README and docs/ state about the embedded default's results is printed
here from the files of a finished run, so that the text can be checked against the run it
describes instead of being copied by hand:

    .venv/bin/python bench/findings.py                       # results/ of `make run`
    .venv/bin/python bench/findings.py --check README.md docs/homology.md docs/stability.md \
        docs/weights.md docs/profiles.md                     # each figure must appear there

With ``--check`` it exits non-zero naming each figure that none of the given files
contains (as written, e.g. ``0.994``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from topoact.files import read_json

RUN = "digits/digits-cnn"


def stability_findings(results: Path) -> dict[str, str]:
    summary = pd.read_csv(results / f"stability/{RUN}/seed-0/summary.tsv", sep="\t")
    kinds = {c.removeprefix("significant_").replace("_", " "): int(summary[c].sum())
             for c in summary if c.startswith("significant_")}
    others = sum(n for kind, n in kinds.items() if kind != "component")
    features = pd.concat([pd.read_csv(path, sep="\t") for path in
                          (results / f"stability/{RUN}/seed-0").glob("*/overlap-*/*.tsv")])
    of_kind = features["kind"].value_counts()
    loops = 0.0
    for path in (results / f"stability/{RUN}/seed-0").glob("*/overlap-*/*.json"):
        record = read_json(path)
        halves = [f["death"] - f["birth"] for f in record["features"] if f["kind"] == "loop"]
        if halves and record["d_alpha"]:
            loops = max(loops, max(abs(h) / 2 for h in halves) / record["d_alpha"])
    grid = pd.read_csv(results / f"stability/{RUN}/seed-0/grid-distances.tsv", sep="\t")
    same = grid["a"].str.split("-epsilon-").str[1] == grid["b"].str.split("-epsilon-").str[1]
    return {"stability: graphs": f"{len(summary):,}",
            "stability: features": f"{int(summary['features'].sum()):,}",
            "stability: significant components": f"{kinds['component']:,}",
            "stability: significant loops and branches": f"{others}",
            "stability: loops": f"{of_kind.get('loop', 0):,}",
            "stability: downward branches": f"{of_kind.get('downward branch', 0):,}",
            "stability: upward branches": f"{of_kind.get('upward branch', 0):,}",
            "stability: resamples B": f"{int(summary['bootstrap'].iloc[0])}",
            "stability: loops' largest half persistence / d_α": f"{loops:.2f}",
            "stability: similarity, same ε mode": f"{grid[same]['similarity'].mean():.2f}",
            "stability: similarity, other ε mode": f"{grid[~same]['similarity'].mean():.2f}"}


def homology_findings(results: Path) -> dict[str, str]:
    base = results / f"homology/{RUN}"
    rho = pd.read_csv(base / "specificity.tsv", sep="\t").groupby("dim")["rho"].mean()
    found = {"homology: models compared": str(len(list(base.glob("seed-*")))),
             "homology: mean rho H0": f"{rho[0]:.3f}", "homology: mean rho H1": f"{rho[1]:.3f}"}
    sensitivity = pd.read_csv(base / "sensitivity.tsv", sep="\t")
    h1 = sensitivity[(sensitivity["dim"] == 1) & (sensitivity["removed"] == 1)]
    past = [row.layer for row in h1.itertuples() if row.sw_mean > row.baseline]
    found["homology: layers past their H1 baseline at k = 1"] = (
        " and ".join([", ".join(past[:-1]), past[-1]] if len(past) > 1 else past) or "none")
    return found


def weight_findings(results: Path) -> dict[str, str]:
    bars = pd.read_csv(results / "weights/digits-cnn/conv1/h1-bars.tsv", sep="\t")
    final = bars[bars["snapshot"] == "final"]["h1_ratio"]
    update = bars[bars["snapshot"] == "final-update"].set_index(["density_k", "keep"])
    found = {"weights: final H1 ratio range": f"{final.min():.2f}–{final.max():.2f}",
             "weights: filters": f"{int(bars['filters'].iloc[0]):,}"}
    for k, keep in ((5, 0.1), (15, 0.3), (50, 0.3)):
        found[f"weights: update H1 ratio X({k}, {keep:.0%})"] = \
            f"{update.loc[(k, keep), 'h1_ratio']:.1f}×"
    return found


def profile_findings(results: Path) -> dict[str, str]:
    table = pd.read_csv(results / f"profiles/{RUN}/seed-0/channel/within-across.tsv", sep="\t")
    neurons = table[(table["class"] == "all") & (table["kind"] == "neurons")].iloc[0]
    return {"profiles: within-class Jaccard": f"{neurons['within']:.2f}",
            "profiles: across-class Jaccard": f"{neurons['across']:.2f}"}


def findings(results: Path) -> dict[str, str]:
    """Every finding's figure, as the docs write it."""
    return {**stability_findings(results), **homology_findings(results),
            **weight_findings(results), **profile_findings(results)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--check", nargs="+", type=Path, metavar="FILE",
                        help="files that must state each figure")
    args = parser.parse_args()
    found = findings(args.results)
    for name, value in found.items():
        print(f"{name}: {value}")
    if not args.check:
        return 0
    text = "\n".join(path.read_text() for path in args.check)
    missing = [f"{name}: {value}" for name, value in found.items()
               if value not in text and not value.isdigit()]
    for line in missing:
        print(f"not stated in {', '.join(map(str, args.check))}: {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
