"""Specificity test across model seeds (rule specificity)."""


from topoact.jobs import job_log
from topoact.steps.homology import specificity_for_model

with job_log(snakemake.log[0]) as log:
    seeds = snakemake.params.seeds
    table = specificity_for_model(
        {seed: list(snakemake.input[f"seed-{seed}"]) for seed in seeds},
        snakemake.output.table, snakemake.output.plot,
        n_directions=snakemake.params.directions, title=snakemake.wildcards.model,
    )
    print(table.groupby("dim")["rho"].mean().to_string(), file=log)
