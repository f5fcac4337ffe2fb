"""Averaged activation image of every node of one graph (rule render_node_images)."""


from topoact.featurevis import render
from topoact.jobs import job_log
from topoact.steps.featurevis import render_graph_nodes

with job_log(snakemake.log[0]) as log:
    params = snakemake.params
    render.prepare_render_process(params.device, snakemake.threads)
    index = render_graph_nodes(
        snakemake.input.graph, snakemake.input.weights, params.module,
        snakemake.output.images, snakemake.output.contact,
        render.RenderSettings(**params.settings), device=params.device,
    )
    cosines = [node["cosine_end"] for node in index["nodes"]]
    if cosines:
        print(f"{len(cosines)} node images; cosine with the target: mean "
              f"{sum(cosines) / len(cosines):.3f}, min {min(cosines):.3f}", file=log)
