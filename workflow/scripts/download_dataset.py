"""Download a dataset into its root (rule download_dataset, a local rule)."""


from topoact import data
from topoact.jobs import job_log

with job_log(snakemake.log[0]) as log:
    options = dict(snakemake.params.options)
    loader = options.pop("loader")
    folder = data.DOWNLOADERS[loader](**options)
    print(f"{loader} is in {folder}", file=log)
