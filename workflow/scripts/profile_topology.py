"""Persistent homology and persistence images of one store's profile graphs
(rule profile_topology)."""


from topoact.jobs import job_log
from topoact.profiles import topology
from topoact.steps.profiles import topology_for_store

with job_log(snakemake.log[0]) as log:
    p = snakemake.params
    topology_for_store(
        snakemake.input[0], snakemake.output.topology, snakemake.output.plot,
        topology.MetricSettings(p.weighting, p.kernel, p.cap_factor),
        topology.ImageGrid(tuple(p.birth_range), tuple(p.pers_range), p.pixel_size, p.spread),
        log=log,
    )
