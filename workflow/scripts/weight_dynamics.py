"""The learning-dynamics strip of one layer (rule weight_dynamics)."""


from topoact.jobs import job_log
from topoact.steps.weights import dynamics_for_layer

with job_log(snakemake.log[0]) as log:
    w, files = snakemake.wildcards, snakemake.input
    snapshots = {
        label: {"graph": graph, "dense": dense, "barcode": barcode, "summary": summary}
        for label, graph, dense, barcode, summary in zip(
            snakemake.params.snapshots, files.graphs, files.dense, files.barcodes,
            files.summaries, strict=True)
    }
    dynamics_for_layer(snapshots, snakemake.output[0],
                       f"{w.model} {w.layer}: dense core over training")
