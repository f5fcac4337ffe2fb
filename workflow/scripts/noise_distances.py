"""How far each graph moves under input noise (rule noise_distances)."""


from topoact import plots, store
from topoact.jobs import job_log
from topoact.steps.stability import noise_distances

with job_log(snakemake.log[0]) as log:
    w = snakemake.wildcards
    table = noise_distances(snakemake.params.pairs)
    store.write_tsv(table, snakemake.output.table)
    plots.plot_noise_distances(table, snakemake.params.layer_order, snakemake.output.plot,
                               title=f"{w.dataset} · {w.model} seed {w.seed}: mapper graphs "
                                     "under input noise")
    print(f"{len(table)} clean/noisy pairs", file=log)
