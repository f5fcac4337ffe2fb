"""Jaccard similarity of one store's class and image profiles (rule profile_similarity)."""

from pathlib import Path

from topoact.jobs import job_log
from topoact.steps.profiles import similarity_for_store

with job_log(snakemake.log[0]) as log:
    similarity_for_store(snakemake.input[0], Path(snakemake.output.table).parent,
                         permutations=snakemake.params.permutations)
