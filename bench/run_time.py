"""Where a workflow run's time went, from Snakemake's own log of the run.

Each job's start (its rule block, with ``threads:``) and end (``Finished jobid``) are
read from the log with their timestamps; per stage it prints the jobs, their wall seconds
summed (job-seconds) and wall × threads (thread-seconds), then the run's elapsed time
and the thread-seconds the cores stood idle. The benchmark files' ``cpu_time``
undercounts threaded jobs, so the log's timeline is the measure.

    .venv/bin/python bench/run_time.py                  # the latest log in .snakemake/log
    .venv/bin/python bench/run_time.py --log PATH --cores 2
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

#: Each rule's stage, as bench/RESULTS.md reports them.
STAGES = {
    "dataset": "data", "download_dataset": "data", "train_model": "models",
    "download_weights": "models", "extract_activations": "activations",
    "foreground_masks": "activations", "receptive_fields": "activations",
    "estimate_epsilon": "epsilon", "build_mapper": "mapper", "build_mapper_grid": "mapper",
    "purity_summary": "mapper", "noise_examples": "mapper", "noise_purity": "mapper",
    "graph_stability": "stability", "grid_distances": "stability",
    "stability_summary": "stability", "noise_distances": "stability",
    "persistence_diagrams": "homology", "sw_distances": "homology",
    "specificity": "homology", "sensitivity": "homology",
    "render_node_images": "feature visualization",
    "select_data_examples": "feature visualization",
    "render_data_examples": "feature visualization",
    "render_all_examples": "feature visualization",
    "train_weight_snapshots": "weight space", "weight_points": "weight space",
    "weight_core": "weight space", "weight_sweep": "weight space",
    "weight_dynamics": "weight space", "profile_images": "profiles",
    "profile_topology": "profiles", "profile_similarity": "profiles",
    "build_explorer": "explorer",
}
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")


def read_jobs(log: Path) -> list[dict]:
    """Every finished job of the log: rule, threads, start and end (datetimes)."""
    jobs: dict[int, dict] = {}
    stamp = rule = None
    for line in log.read_text().splitlines():
        if match := STAMP.match(line):
            stamp = datetime.strptime(" ".join(match[1].split()), "%a %b %d %H:%M:%S %Y")
        elif match := START.match(line):
            rule, jobid = match[1], None
        elif rule and (match := re.match(r"^\s+jobid: (\d+)$", line)):
            jobid = int(match[1])
            jobs[jobid] = {"rule": rule, "threads": 1, "start": stamp, "end": None}
        elif rule and jobid is not None and (match := re.match(r"^\s+threads: (\d+)$", line)):
            jobs[jobid]["threads"] = int(match[1])
        elif match := re.match(r"^Finished jobid: (\d+)", line):
            if int(match[1]) in jobs:
                jobs[int(match[1])]["end"] = stamp
    return [job for job in jobs.values() if job["end"] is not None and job["rule"] != "all"]


def summarise(jobs: list[dict], cores: int) -> str:
    by_stage: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for job in jobs:
        seconds = (job["end"] - job["start"]).total_seconds()
        row = by_stage[STAGES.get(job["rule"], job["rule"])]
        row[0] += 1
        row[1] += seconds
        row[2] += seconds * job["threads"]
    lines = ["| stage | jobs | job-seconds | thread-seconds |", "|---|---:|---:|---:|"]
    for stage, (count, wall, threads) in sorted(by_stage.items(), key=lambda kv: -kv[1][2]):
        lines.append(f"| {stage} | {count} | {wall:,.0f} | {threads:,.0f} |")
    count = sum(row[0] for row in by_stage.values())
    wall = sum(row[1] for row in by_stage.values())
    threads = sum(row[2] for row in by_stage.values())
    lines.append(f"| **all** | {count} | {wall:,.0f} | **{threads:,.0f}** |")
    elapsed = (max(j["end"] for j in jobs) - min(j["start"] for j in jobs)).total_seconds()
    lines.append(f"\nelapsed {elapsed:,.0f} s (first job's start to last job's end); "
                 f"idle thread-seconds {cores * elapsed - threads:,.0f} of {cores} × elapsed")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, help="a Snakemake log (default: the latest in "
                        ".snakemake/log of the current folder)")
    parser.add_argument("--cores", type=int, default=2, help="the run's --cores (default 2)")
    args = parser.parse_args()
    log = args.log or max(Path(".snakemake/log").glob("*.snakemake.log"),
                          key=lambda p: p.stat().st_mtime)
    jobs = read_jobs(log)
    if not jobs:
        raise SystemExit(f"{log}: no finished jobs")
    print(f"{log}: {len(jobs)} jobs\n")
    print(summarise(jobs, args.cores))


if __name__ == "__main__":
    main()
