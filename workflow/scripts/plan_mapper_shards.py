"""A cloud's shard plan: the lens, the covers, each shard's intervals and rows (rule
plan_mapper_shards, mapper.shards > 1)."""

from topoact.jobs import job_log
from topoact.steps.shards import plan_for_store

with job_log(snakemake.log[0]) as log:
    params = snakemake.params
    ranges = plan_for_store(snakemake.input.points, snakemake.output.plan,
                            intervals=params.intervals, overlaps=params.overlaps,
                            cover=params.cover, shards=params.shards)
    print(f"intervals of each shard: {ranges}", file=log)
