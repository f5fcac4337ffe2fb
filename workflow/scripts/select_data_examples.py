"""Data examples of every node of one layer's graphs (rule select_data_examples)."""


from topoact.jobs import job_log
from topoact.steps.examples import select_layer_examples

with job_log(snakemake.log[0]) as log:
    graphs = {name: path for name, path in snakemake.input.items() if name != "points"}
    selection = select_layer_examples(
        graphs, snakemake.input.points, snakemake.output[0], top=snakemake.params.top,
        per_class=snakemake.params.per_class,
    )
    print(f"{len(selection['points'])} points shown by {len(graphs)} graphs", file=log)
