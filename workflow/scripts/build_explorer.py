"""The explorer page over every graph of the grid (rule build_explorer)."""


from topoact import explorer
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    sources = [
        explorer.GraphSource(**{**source, "examples": tuple(source["examples"])
                                if source["examples"] else None})
        for source in snakemake.params.sources
    ]
    profile_sources = [explorer.ProfileSource(**source)
                       for source in snakemake.params.profile_sources]
    settings = snakemake.params.settings
    note = explorer.images_note(settings["images"]["samplings"], settings["images"]["graphs"],
                                settings["opening"])
    manifest = explorer.build_explorer(sources, snakemake.output[0],
                                       layer_order=snakemake.params.layer_order,
                                       profile_sources=profile_sources,
                                       opening=settings["opening"], note=note)
    sizes = explorer.site_sizes(snakemake.output[0])
    print(f"{len(manifest['graphs'])} graphs, {len(profile_sources)} profile analyses; "
          f"{sizes['total'] / 1e6:.1f} MB in all: graph data {sizes['graphs'] / 1e6:.1f} MB "
          f"in {sizes['graph_files']} files (largest {sizes['largest_graph'] / 1e6:.2f} MB, "
          f"each loaded when its graph is first shown), images {sizes['images'] / 1e6:.1f} "
          f"MB (loaded when drawn); open {snakemake.output[0]}/index.html", file=log)
