"""Write one dataset's images store (rule dataset)."""


from topoact import data, store
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    options = dict(snakemake.params.options)
    loader = options.pop("loader")
    source = data.load_dataset(loader, **options)
    store.write_images(
        snakemake.output[0],
        source.batches(256),
        count=source.count,
        image_shape=source.image_shape,
        classes=source.classes,
        splits=source.splits,
        source=source.source,
        attrs=store.provenance({"loader": loader, **options}, {}, options.get("split_seed")),
    )
    print(f"{source.count} images {source.image_shape}, splits {source.splits}", file=log)
