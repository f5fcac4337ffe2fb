"""Data examples of every node of one graph (rule select_data_examples)."""


from topoact.featurevis import examples
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    selection = examples.select_graph_examples(
        snakemake.input.graph, snakemake.input.points, snakemake.output[0],
        top=snakemake.params.top, per_class=snakemake.params.per_class,
    )
    print(f"{len(selection['points'])} points shown by {len(selection['nodes'])} nodes",
          file=log)
