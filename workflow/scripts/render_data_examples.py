"""Activation images and input thumbnails of a layer's data examples (render_data_examples)."""


from topoact.featurevis import render
from topoact.jobs import job_log
from topoact.steps.featurevis import render_examples

with job_log(snakemake.log[0]) as log:
    params = snakemake.params
    render.prepare_render_process(params.device, snakemake.threads)
    index = render_examples(
        snakemake.input.points, snakemake.input.images, snakemake.input.weights, params.module,
        snakemake.output[0], render.RenderSettings(**params.settings),
        selection_path=snakemake.input.selection or None,
        thumbnail_size=params.thumbnail_size, device=params.device,
    )
    print(f"{len(index['examples'])} activation images", file=log)
