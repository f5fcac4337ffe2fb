"""The workflow's plan: from a run's config, where every stage writes and what it needs.

Pure Python over the validated config dict (no Snakemake, no torch), so that what a config
asks for is tested directly. The rules (``workflow/rules/*.smk``) take their path
templates from here and call one :class:`Plan` for their targets and inputs. Every stage
walks a layer's mapper grid through :meth:`Plan.grid` and a run's graphs through
:meth:`Plan.graph_wildcards`, so their orders cannot drift apart (a grid job's outputs
follow that order).

Path templates hold Snakemake wildcards in braces (``{dataset}``, ``{layer}``, ...). The
methods that take ``wildcards`` are the rules' input and params functions: they read a
job's wildcards by name from any mapping (Snakemake's, or a dict in a test).
"""

from __future__ import annotations

from collections.abc import Mapping

from topoact.layers import USER_SPEC_KEYS, is_user_architecture, layer_module, layer_table_of
from topoact.names import (
    DEEPLAB_WEIGHTS,
    NOISE,
    cover_prefix,
    grid_name,
    grid_parameters,
    masked_sampling,
    percent_label,
)

RESULTS = "results"
#: The wildcards of one analysis (a dataset, a trained model) and of one cloud of it.
RUN = "{dataset}/{model}/seed-{seed}"
CLOUD = f"{RUN}/{{sampling}}/{{layer}}"
ACTIVATIONS = f"{RESULTS}/activations/{CLOUD}.zarr"
EPSILON = f"{RESULTS}/epsilon/{CLOUD}"
#: mapper.jobs: shared — a layer's grid pass, built by the first of its graph jobs to run
#: and copied by the others (a cache, not a declared output).
LAYER_PASS = f"{RESULTS}/mapper-pass/{CLOUD}"
#: mapper.shards > 1: a cloud's shard plan and each shard's nodes (see topoact.shards).
MAPPER_SHARDS = f"{RESULTS}/mapper-shards/{CLOUD}"
PURITY = f"{RESULTS}/purity/{RUN}"
HOMOLOGY = f"{RESULTS}/homology/{{dataset}}/{{model}}"
FEATUREVIS = f"{RESULTS}/featurevis/{RUN}/{{sampling}}"
#: A layer's data examples: which points each rendered graph's nodes show (.json), and
#: their images, each point rendered once for all of them.
EXAMPLES = f"{FEATUREVIS}/examples/{{layer}}"
DATA = f"{RESULTS}/data/{{dataset}}.zarr"
MASKS = f"{RESULTS}/masks/{{dataset}}.zarr"
RECEPTIVE_FIELDS = f"{RESULTS}/receptive_fields/{RUN}/{{layer}}.npz"
MODEL_WEIGHTS = f"{RESULTS}/models/{{model}}/seed-{{seed}}.pt"
MODEL_SIDECAR = f"{RESULTS}/models/{{model}}/seed-{{seed}}.json"
STABILITY_RUN = f"{RESULTS}/stability/{RUN}"
GRID_DISTANCES = f"{STABILITY_RUN}/{{sampling}}/grid-distances/{{layer}}"
#: A layer's stability pass on a small cloud, computed by the first of its graph_stability
#: jobs to run and copied by the others (a cache, not a declared output).
STABILITY_PASS = f"{RESULTS}/stability-pass/{CLOUD}"
WEIGHTS = f"{RESULTS}/weights/{{model}}"
SNAPSHOT_STORE = f"{WEIGHTS}/snapshots/{{snapshot}}.zarr"
WEIGHT_POINTS = f"{WEIGHTS}/{{layer}}/{{snapshot}}/points.zarr"
WEIGHT_CORE = f"{WEIGHTS}/{{layer}}/{{snapshot}}/k-{{k}}-keep-{{keep}}/"  # + a file name
PROFILES = f"{RESULTS}/profiles/{RUN}/{{neuron}}"
EXPLORER = f"{RESULTS}/explorer"


def noise_label(sigma: float) -> str:
    """Canonical label of a noise σ: ``0.1`` for 0.1 and 0.10."""
    return format(float(sigma), "g")


def base_dataset(name: str) -> str:
    """The dataset a (possibly noisy) variant reads its images from."""
    return name.split(NOISE)[0]


def noise_of(name: str) -> float:
    """σ of a dataset variant (0 for the clean dataset)."""
    return float(name.split(NOISE)[1]) if NOISE in name else 0.0


class Plan:
    """What one config asks the workflow for.

    Parameters
    ----------
    config : dict
        The run's config, validated against the schema (defaults filled in).
    """

    def __init__(self, config: dict) -> None:
        self.config = config
        #: A graph's parameter set, named as TopoAct names it; the balanced cover's names
        #: start with cover-balanced-.
        self.parameters = (f"{cover_prefix(config['mapper']['cover'])}"
                           "overlap-{overlap}-epsilon-{epsilon}")
        self.graph = f"{RESULTS}/mapper/{RUN}/{{sampling}}/{self.parameters}/{{layer}}"
        self.node_images = f"{FEATUREVIS}/{self.parameters}/{{layer}}"
        self.stability = f"{STABILITY_RUN}/{{sampling}}/{self.parameters}/{{layer}}"

    # ----------------------------------------------------------------- datasets, models

    def noisy_datasets(self, dataset: str) -> list[str]:
        """The noisy variants of a dataset, one per σ of ``activations.noise_sigmas``."""
        return [f"{dataset}{NOISE}{noise_label(s)}"
                for s in self.config["activations"]["noise_sigmas"]]

    def dataset_names(self) -> list[str]:
        """Every dataset name a job may have: the datasets and their noisy variants."""
        datasets = self.config["datasets"]
        return [*datasets, *(v for d in datasets for v in self.noisy_datasets(d))]

    def layer_names(self) -> list[str]:
        """Every layer some analysis (of activations or of weights) names, sorted."""
        analyses = [*self.config["analyses"], *self.config["weights"]["analyses"]]
        return sorted({layer for a in analyses for layer in a["layers"]})

    def dataset_options(self, wildcards: Mapping) -> dict:
        """A dataset's config entry, its root defaulting to resources/{dataset}."""
        dataset = wildcards["dataset"]
        options = dict(self.config["datasets"][dataset])
        options["root"] = options["root"] or f"resources/{dataset}"
        return options

    def download_marker(self, wildcards: Mapping) -> str | list:
        """The download a dataset waits for (only when its config asks for one)."""
        dataset = wildcards["dataset"]
        if self.config["datasets"][dataset]["download"]:
            return f"{RESULTS}/downloads/{dataset}.done"
        return []

    def segmentation(self, wildcards: Mapping) -> str:
        """The segmentation method of a (possibly noisy) dataset's foreground masks."""
        return self.config["datasets"][base_dataset(wildcards["dataset"])]["segmentation"]

    def segmentation_weights(self, wildcards: Mapping) -> str | list:
        """DeepLabV3's weights file when the dataset's masks come from it (else none)."""
        return DEEPLAB_WEIGHTS if self.segmentation(wildcards) == "deeplabv3" else []

    def dataset_images(self, wildcards: Mapping) -> str:
        """The images store a (possibly noisy) dataset variant reads."""
        return DATA.format(dataset=base_dataset(wildcards["dataset"]))

    def foreground_inputs(self, wildcards: Mapping) -> list[str]:
        """Masks and receptive fields a masked sampling needs ([masks, fields]), else
        nothing. Noisy variants use their clean base's: the object is where it was."""
        if not masked_sampling(wildcards["sampling"]):
            return []
        base = base_dataset(wildcards["dataset"])
        return [MASKS.format(dataset=base),
                RECEPTIVE_FIELDS.format(**{**wildcards, "dataset": base})]

    def model_inputs(self, wildcards: Mapping) -> dict[str, str]:
        """What a model is made from: its training images, or the weights it is given."""
        entry = self.config["models"][wildcards["model"]]
        if entry["weights"] is None:
            return {"images": DATA.format(dataset=entry["dataset"])}
        if entry["weights"] == "imagenet":
            return {"weights": f"resources/weights/{entry['architecture']}-imagenet.pt"}
        return {"weights": entry["weights"]}

    def model_spec(self, wildcards: Mapping) -> str | dict:
        """A built-in's name, or a user model's entry (architecture, kwargs, input_size,
        normalize, weights): what builds it, so that a change of kwargs reruns its jobs."""
        entry = self.config["models"][wildcards["model"]]
        if not is_user_architecture(entry["architecture"]):
            return entry["architecture"]
        return {key: entry[key] for key in USER_SPEC_KEYS}

    def model_layer_names(self, model: str) -> list[str]:
        """A model's layers in depth order: a built-in's readable names; a user model's
        module paths in the order the config lists them."""
        architecture = layer_table_of(self.config["models"][model])
        if architecture.spec is None:
            return list(architecture.layers)
        analyses = [*self.config["analyses"], *self.config["weights"]["analyses"]]
        listed = [layer for a in analyses if a["model"] == model for layer in a["layers"]]
        return list(dict.fromkeys(listed))

    def model_layer_orders(self, wildcards: Mapping | None = None) -> dict[str, list[str]]:
        """Per model, its architecture's layers in depth order."""
        return {name: self.model_layer_names(name) for name in self.config["models"]}

    def layer_order(self, wildcards: Mapping) -> list[str]:
        """The layers of a job's model in depth order (for purity plots)."""
        return self.model_layer_names(wildcards["model"])

    def layer_module_path(self, wildcards: Mapping) -> str:
        """The module path of a job's layer in its model."""
        return layer_module(self.config["models"][wildcards["model"]], wildcards["layer"])

    def model_weights(self, wildcards: Mapping) -> str:
        """The weights of a job's (model, seed)."""
        return MODEL_WEIGHTS.format(**wildcards)

    def cloud_threads(self, wildcards: Mapping) -> int:
        """Threads of a cloud's extraction and ε job: 2 for a `full` cloud (every position
        of every image), 1 for the clouds of one or a few points per image, whose jobs
        are mostly start-up (half of it importing torch) and run two side by side
        instead. Their outputs are the same either way."""
        return 2 if wildcards["sampling"] == "full" else 1

    def analysis_grid(self, noisy: bool = True) -> list[tuple[str, str, int]]:
        """(dataset, model, seed) of every analysis, with the noisy dataset variants."""
        return sorted({
            (dataset, a["model"], seed)
            for a in self.config["analyses"]
            for seed in a["seeds"]
            for dataset in [a["dataset"], *(self.noisy_datasets(a["dataset"]) if noisy else [])]
        })

    def analysis_layers(self, dataset: str, model: str) -> list[str]:
        """The analysed layers of a (possibly noisy) dataset's model, sorted by name."""
        return sorted({
            layer
            for a in self.config["analyses"]
            if (a["dataset"], a["model"]) == (base_dataset(dataset), model)
            for layer in a["layers"]
        })

    def ordered_layers(self, wildcards: Mapping) -> list[str]:
        """The analysed layers of a job's (dataset, model) in the architecture's depth order."""
        chosen = set(self.analysis_layers(wildcards["dataset"], wildcards["model"]))
        return [layer for layer in self.model_layer_names(wildcards["model"]) if layer in chosen]

    def trained_models(self) -> list[str]:
        """Weights of every (model, seed) some analysis uses."""
        return sorted({MODEL_WEIGHTS.format(model=a["model"], seed=seed)
                       for a in self.config["analyses"] for seed in a["seeds"]})

    def activation_stores(self) -> list[str]:
        """Activation stores of every (analysis, seed, sampling, layer) of the config."""
        return sorted({
            ACTIVATIONS.format(dataset=a["dataset"], model=a["model"], seed=seed,
                               sampling=sampling, layer=layer)
            for a in self.config["analyses"]
            for seed in a["seeds"]
            for sampling in self.config["activations"]["samplings"]
            for layer in a["layers"]
        })

    # ----------------------------------------------------------------- the mapper grid

    def grid(self) -> list[tuple[float, str]]:
        """(overlap percent, ε mode) of every graph of a layer's grid, overlaps outermost:
        the order of a grid job's outputs, and of every stage's walk over a grid."""
        mapper = self.config["mapper"]
        return grid_parameters(mapper["overlaps"], mapper["epsilons"])

    def parameters_name(self, overlap: float, epsilon: str) -> str:
        """The name of a graph's parameter set (its folder), e.g. overlap-30-epsilon-adaptive."""
        return grid_name(overlap, epsilon, self.config["mapper"]["cover"])

    def graph_wildcards(self, dataset: str, model: str, seed: int, samplings: list[str],
                        parameters: list[tuple[float, str]] | None = None) -> list[dict]:
        """The wildcards of every graph of one (dataset, model, seed): samplings outermost,
        then the analysed layers, then the grid (or the given (overlap, ε) of it)."""
        parameters = self.grid() if parameters is None else parameters
        return [
            dict(dataset=dataset, model=model, seed=seed, sampling=sampling, layer=layer,
                 overlap=percent_label(overlap), epsilon=epsilon)
            for sampling in samplings
            for layer in self.analysis_layers(dataset, model)
            for overlap, epsilon in parameters
        ]

    def mapper_graphs(self, dataset: str, model: str, seed: int, suffix: str) -> list[str]:
        """Files of every graph of the mapper grid for one (dataset, model, seed)."""
        samplings = self.config["mapper"]["samplings"]
        return [self.graph.format(**w) + suffix
                for w in self.graph_wildcards(dataset, model, seed, samplings)]

    def layer_grid_graphs(self, suffix: str) -> list[str]:
        """Files of every graph of one (dataset, model, seed, sampling, layer)'s grid, in
        grid order (the other wildcards left in place)."""
        return [self.graph.replace("{overlap}", percent_label(overlap))
                .replace("{epsilon}", epsilon) + suffix
                for overlap, epsilon in self.grid()]

    def layer_graphs(self, wildcards: Mapping, parameters: list | None = None) -> dict[str, str]:
        """Named by parameter set: the graph store of every (overlap, ε) of a job's
        (sampling, layer) (or of the given ones)."""
        parameters = self.grid() if parameters is None else parameters
        return {self.parameters_name(overlap, epsilon):
                self.graph.format(**{**wildcards, "overlap": percent_label(overlap),
                                     "epsilon": epsilon}) + ".zarr"
                for overlap, epsilon in parameters}

    def mapper_outputs(self) -> list[str]:
        """ε plots, graph figures and exports, and purity tables of the whole grid."""
        mapper = self.config["mapper"]
        files = []
        if not mapper["samplings"]:
            return files
        for dataset, model, seed in self.analysis_grid():
            files += self.mapper_graphs(dataset, model, seed, ".png")
            files += self.mapper_graphs(dataset, model, seed, ".json")
            files.append(PURITY.format(dataset=dataset, model=model, seed=seed) + "/purity.tsv")
            if "adaptive" in mapper["epsilons"]:
                files += [EPSILON.format(dataset=dataset, model=model, seed=seed, sampling=s,
                                         layer=layer) + ".png"
                          for s in mapper["samplings"]
                          for layer in self.analysis_layers(dataset, model)]
        return files

    def graph_epsilon_input(self, wildcards: Mapping) -> str | list:
        """The ε estimate a graph's job reads, for adaptive ε only (else none)."""
        return EPSILON.format(**wildcards) + ".json" if wildcards["epsilon"] == "adaptive" else []

    def layer_epsilon_input(self, wildcards: Mapping) -> str | list:
        """The ε estimate a layer's grid (or shard) job reads, when the grid has adaptive ε
        (else none)."""
        if "adaptive" in self.config["mapper"]["epsilons"]:
            return EPSILON.format(**wildcards) + ".json"
        return []

    def graph_fixed_epsilon(self, wildcards: Mapping) -> float | None:
        """The fixed ε of a fixed-ε graph's job (None for adaptive ε)."""
        return self.config["mapper"]["fixed_epsilon"] if wildcards["epsilon"] == "fixed" else None

    def grid_threads(self, wildcards: Mapping) -> int:
        """Threads of a layer's grid (or shard) job: 2 for a `full` cloud, where the
        engine's distance products dominate; 1 for the clouds of one or a few points per
        image, whose jobs are mostly single-threaded start-up, layout and figures (CPU time
        = wall time) and run two side by side instead."""
        return 2 if wildcards["sampling"] == "full" else 1

    def graph_threads(self, wildcards: Mapping) -> int:
        """Threads of a graph's job: 1, so that a grid's jobs run side by side; with
        mapper.jobs: shared, a `full` cloud's jobs get a grid's threads, since the first of
        a layer runs the whole layer's pass (and the others would wait for it)."""
        return self.grid_threads(wildcards) if self.config["mapper"]["jobs"] == "shared" else 1

    def shard_plan_input(self, wildcards: Mapping) -> str | list:
        """A layer's shard plan, when mapper.shards > 1 (else none)."""
        if self.config["mapper"]["shards"] == 1:
            return []
        return MAPPER_SHARDS.format(**wildcards) + "/plan.zarr"

    def shard_nodes_input(self, wildcards: Mapping) -> list[str]:
        """The shards' nodes a layer's grid job gathers (none unless mapper.shards > 1)."""
        shards = self.config["mapper"]["shards"]
        if shards == 1:
            return []
        base = MAPPER_SHARDS.format(**wildcards)
        return [f"{base}/shard-{shard}.zarr" for shard in range(shards)]

    def purity_tables(self, wildcards: Mapping) -> list[str]:
        """The purity table of every graph of a job's (dataset, model, seed)."""
        return self.mapper_graphs(wildcards["dataset"], wildcards["model"], wildcards["seed"],
                                  ".purity.tsv")

    def purity_tables_by_noise(self, wildcards: Mapping) -> list[str]:
        """The purity summaries of the clean dataset and of each noisy variant, in the
        order of :meth:`noise_sigmas` (σ 0 first)."""
        dataset = wildcards["dataset"]
        return [PURITY.format(**{**wildcards, "dataset": d}) + "/purity.tsv"
                for d in [dataset, *self.noisy_datasets(dataset)]]

    def noise_sigmas(self, wildcards: Mapping) -> list[float]:
        """σ of the clean dataset (0) and of each noisy variant, as purity_tables_by_noise."""
        return [0.0] + [noise_of(v) for v in self.noisy_datasets(wildcards["dataset"])]

    def noise_outputs(self) -> list[str]:
        """Example perturbed images per dataset, and purity against σ per (dataset,
        model, seed)."""
        if not self.config["activations"]["noise_sigmas"]:
            return []
        datasets = {a["dataset"] for a in self.config["analyses"]}
        files = [f"{RESULTS}/noise/{d}-examples.png" for d in datasets]
        if self.config["mapper"]["samplings"]:
            files += [PURITY.format(dataset=dataset, model=model, seed=seed)
                      + "/noise-purity.png"
                      for dataset, model, seed in self.analysis_grid(noisy=False)]
        return files

    # ----------------------------------------------------------------- stability

    def stability_samplings(self) -> list[str]:
        """Mapper samplings whose graphs get the stability stage."""
        return [s for s in self.config["stability"]["samplings"]
                if s in self.config["mapper"]["samplings"]]

    def stability_graphs(self, dataset: str, model: str, seed: int, suffix: str) -> list[str]:
        """The stability files of every graph of one (dataset, model, seed)'s grid."""
        return [self.stability.format(**w) + suffix
                for w in self.graph_wildcards(dataset, model, seed, self.stability_samplings())]

    def grid_distance_files(self, dataset: str, model: str, seed: int, suffix: str) -> list[str]:
        """Per (sampling, layer): the distances between its grid's graphs (with two or more)."""
        if len(self.grid()) < 2:
            return []
        return [GRID_DISTANCES.format(dataset=dataset, model=model, seed=seed,
                                      sampling=sampling, layer=layer) + suffix
                for sampling in self.stability_samplings()
                for layer in self.analysis_layers(dataset, model)]

    def stability_outputs(self) -> list[str]:
        """Per graph its diagram figure; per layer its grid's distances; per (dataset,
        model, seed) the summary; per clean analysis with noise, the noise distances."""
        if not self.stability_samplings():
            return []
        files = []
        for dataset, model, seed in self.analysis_grid():
            run = STABILITY_RUN.format(dataset=dataset, model=model, seed=seed)
            files += self.stability_graphs(dataset, model, seed, ".png")
            files += self.grid_distance_files(dataset, model, seed, ".png")
            files += [f"{run}/summary.tsv", f"{run}/significant-features.png"]
        if self.config["activations"]["noise_sigmas"]:
            files += [STABILITY_RUN.format(dataset=dataset, model=model, seed=seed)
                      + "/noise-distances.png"
                      for dataset, model, seed in self.analysis_grid(noisy=False)]
        return files

    def graph_parameters(self, wildcards: Mapping) -> str:
        """The parameter-set name of a graph job's wildcards (titles, table columns)."""
        return self.parameters_name(wildcards["overlap"], wildcards["epsilon"])

    def stability_summary_inputs(self, wildcards: Mapping) -> dict[str, list[str]]:
        """Named ``records`` and ``distances``: every graph's stability record and every
        layer's grid distances of a job's (dataset, model, seed)."""
        run = (wildcards["dataset"], wildcards["model"], wildcards["seed"])
        return {"records": self.stability_graphs(*run, ".json"),
                "distances": self.grid_distance_files(*run, ".tsv")}

    def noise_graph_inputs(self, wildcards: Mapping) -> list[str]:
        """Every graph store of :meth:`noise_graph_pairs`."""
        return sorted({pair[key] for pair in self.noise_graph_pairs(wildcards)
                       for key in ("clean", "noisy")})

    def noise_graph_pairs(self, wildcards: Mapping) -> list[dict]:
        """Each stability graph of the clean dataset with its noisy variant at each σ."""
        dataset, model, seed = wildcards["dataset"], wildcards["model"], wildcards["seed"]
        pairs = []
        for variant in self.noisy_datasets(dataset):
            for w in self.graph_wildcards(dataset, model, seed, self.stability_samplings()):
                pairs.append({
                    "sampling": w["sampling"], "layer": w["layer"], "sigma": noise_of(variant),
                    "parameters": self.parameters_name(w["overlap"], w["epsilon"]),
                    "clean": self.graph.format(**w) + ".zarr",
                    "noisy": self.graph.format(**{**w, "dataset": variant}) + ".zarr",
                })
        return pairs

    # ----------------------------------------------------------------- homology

    def model_diagrams(self, wildcards: Mapping) -> list[str]:
        """The persistence diagrams of a job's (dataset, model, seed)'s analysed layers,
        in depth order."""
        base = HOMOLOGY.format(**wildcards)
        return [f"{base}/seed-{wildcards['seed']}/diagrams/{layer}.npz"
                for layer in self.ordered_layers(wildcards)]

    def diagrams_by_seed(self, wildcards: Mapping) -> dict[str, list[str]]:
        """Named ``seed-S``: the layer diagrams of each homology seed."""
        return {f"seed-{seed}": self.model_diagrams({**wildcards, "seed": seed})
                for seed in self.config["homology"]["seeds"]}

    def reference_top_l2_stores(self, wildcards: Mapping) -> list[str]:
        """The top-l2 clouds of the first homology seed, in depth order."""
        seed = self.config["homology"]["seeds"][0]
        return [ACTIVATIONS.format(dataset=wildcards["dataset"], model=wildcards["model"],
                                   seed=seed, sampling="top-l2", layer=layer)
                for layer in self.ordered_layers(wildcards)]

    def homology_outputs(self) -> list[str]:
        """Diagram figures, distance heatmaps, and the specificity/sensitivity tests."""
        files = []
        seeds = self.config["homology"]["seeds"]
        for a in self.config["analyses"]:
            base = HOMOLOGY.format(dataset=a["dataset"], model=a["model"])
            for seed in seeds:
                files.append(f"{base}/seed-{seed}/sw-distances.tsv")
                files += [f"{base}/seed-{seed}/diagrams/{layer}.png" for layer in a["layers"]]
            if len(seeds) > 1:
                files += [f"{base}/specificity.tsv", f"{base}/sensitivity.tsv"]
        return files

    # ----------------------------------------------------------------- feature visualization

    def rendered_samplings(self) -> list[str]:
        """Samplings whose graphs get activation images (those without graphs have none)."""
        return [s for s in self.config["featurevis"]["samplings"]
                if s in self.config["mapper"]["samplings"]]

    def opening_parameters(self) -> tuple[float, str]:
        """The parameter set the explorer opens on: the grid's first overlap and first ε."""
        return self.grid()[0]

    def rendered_parameters(self) -> list[tuple[float, str]]:
        """(overlap, ε) of the graphs of a layer that get activation images: the one the
        explorer opens on (featurevis.graphs: opening) or every graph of the grid (all)."""
        if self.config["featurevis"]["graphs"] == "all":
            return self.grid()
        return [self.opening_parameters()]

    def examples_on(self) -> bool:
        """Whether data examples are selected and rendered."""
        featurevis = self.config["featurevis"]
        return featurevis["examples_per_class"] > 0 or featurevis["all_examples"]

    def featurevis_outputs(self) -> list[str]:
        """Node-average images with contact sheets of the rendered graphs, and each
        layer's data-example images (of the clean datasets: the noisy variants get graphs
        and purity only)."""
        files = []
        for dataset, model, seed in self.analysis_grid(noisy=False):
            for w in self.graph_wildcards(dataset, model, seed, self.rendered_samplings(),
                                          self.rendered_parameters()):
                node_images = self.node_images.format(**w)
                files += [node_images, f"{node_images}.contact.png"]
            if self.examples_on():
                for sampling in self.rendered_samplings():
                    for layer in self.analysis_layers(dataset, model):
                        examples = EXAMPLES.format(dataset=dataset, model=model, seed=seed,
                                                   sampling=sampling, layer=layer)
                        files += [examples, f"{examples}.json"]
        return files

    def render_settings(self, wildcards: Mapping) -> dict:
        """Feature-visualization settings (a small dict: every key changes the images)."""
        featurevis = self.config["featurevis"]
        size = (featurevis["image_size"]
                or layer_table_of(self.config["models"][wildcards["model"]]).input_size)
        return {"steps": featurevis["steps"], "batch_size": featurevis["batch_size"],
                "image_size": size, "power": featurevis["power"],
                "learning_rate": featurevis["learning_rate"], "seed": featurevis["seed"]}

    def rendered_layer_graphs(self, wildcards: Mapping) -> dict[str, str]:
        """Named by parameter set: the graph store of each rendered (overlap, ε) of a job's
        (sampling, layer), whose nodes' data examples the layer's selection lists."""
        return self.layer_graphs(wildcards, self.rendered_parameters())

    def example_selection(self, wildcards: Mapping) -> str | list:
        """The selection a layer's data examples render (none when every point is
        rendered: that does not depend on which points the graphs show)."""
        if self.config["featurevis"]["all_examples"]:
            return []
        return EXAMPLES.format(**wildcards) + ".json"

    # ----------------------------------------------------------------- explorer

    def graph_source(self, w: dict, rendered: set) -> dict:
        """The explorer's record of one graph (GraphSource fields) and the files it reads."""
        layer = {key: w[key] for key in ("dataset", "model", "seed", "sampling", "layer")}
        images = (w["sampling"] in self.rendered_samplings() and noise_of(w["dataset"]) == 0
                  and (w["overlap"], w["epsilon"]) in rendered)
        base = self.graph.format(**w)
        examples = EXAMPLES.format(**layer)
        return {
            **layer, "seed": int(w["seed"]),
            "parameters": self.parameters_name(w["overlap"], w["epsilon"]),
            "graph": f"{base}.zarr", "points": ACTIVATIONS.format(**layer),
            "node_images": self.node_images.format(**w) if images else None,
            "examples": [f"{examples}.json", examples] if images and self.examples_on() else None,
            "stability": self.stability.format(**w) + ".json"
            if w["sampling"] in self.stability_samplings() else None,
            "purity": f"{base}.purity.tsv",
        }

    def explorer_sources(self, wildcards: Mapping | None = None) -> list[dict]:
        """Every graph the explorer shows, with the files it reads for it."""
        rendered = {(percent_label(o), e) for o, e in self.rendered_parameters()}
        sources = [self.graph_source(w, rendered)
                   for dataset, model, seed in self.analysis_grid()
                   for w in self.graph_wildcards(dataset, model, seed,
                                                 self.config["mapper"]["samplings"])]
        return sources + self.weight_explorer_sources()

    def explorer_settings(self, wildcards: Mapping | None = None) -> dict:
        """What the explorer page says of the run: the parameter set it opens on, and
        which graphs have activation images (its note on a graph without them)."""
        return {"opening": self.parameters_name(*self.opening_parameters()),
                "images": {"samplings": self.rendered_samplings(),
                           "graphs": self.config["featurevis"]["graphs"]}}

    def explorer_inputs(self, wildcards: Mapping | None = None) -> list[str]:
        """The files of every explorer source (so the explorer waits for all of them)."""
        files = set(self.profile_explorer_files())
        for source in self.explorer_sources():
            files.update([source["graph"], source["points"]])
            if source["node_images"]:
                files.add(source["node_images"])
            if source["examples"]:
                files.update(source["examples"])
            files.update(source[key] for key in ("stability", "purity") if source.get(key))
        return sorted(files)

    def explorer_outputs(self) -> list[str]:
        return [EXPLORER] if self.config["mapper"]["samplings"] else []

    # ----------------------------------------------------------------- weight space

    def weight_models(self, trainable: bool) -> list[str]:
        """Models of the weight-space analyses that are trained (or given their weights)."""
        models = self.config["models"]
        return sorted({a["model"] for a in self.config["weights"]["analyses"]
                       if (models[a["model"]]["weights"] is None) == trainable})

    def weight_seeds(self) -> list[int]:
        """The weight-space trainings: seeds 0..N-1 for a count N, or the listed seeds."""
        seeds = self.config["weights"]["seeds"]
        return list(range(seeds)) if isinstance(seeds, int) else sorted(seeds)

    def trained_snapshots(self) -> list[str]:
        """Snapshot labels of a trained model, in training order."""
        return ([f"iteration-{i}" for i in sorted(self.config["weights"]["snapshots"])]
                + ["final"])

    def weight_snapshots(self, model: str) -> list[str]:
        """Snapshot labels of a model in training order (a model with given weights: final)."""
        given = self.config["models"][model]["weights"] is not None
        return ["final"] if given else self.trained_snapshots()

    def weight_updates(self, model: str) -> bool:
        """Whether the learned update W - W₀ of a model's final weights is analysed too
        (only a trained model has an initialisation)."""
        return (self.config["weights"]["updates"]
                and self.config["models"][model]["weights"] is None)

    def weight_sweep_snapshots(self, model: str) -> list[str]:
        """The snapshots that get the whole X(k, p) sweep: the final weights (and their
        update)."""
        return ["final", "final-update"] if self.weight_updates(model) else ["final"]

    def trained_snapshot_stores(self) -> list[str]:
        """The snapshot stores of a trained model (``{model}`` left in place)."""
        return [SNAPSHOT_STORE.replace("{snapshot}", label) for label in self.trained_snapshots()]

    def weight_training_images(self, wildcards: Mapping) -> str:
        """The images a weight-space model trains on."""
        return DATA.format(dataset=self.config["models"][wildcards["model"]]["dataset"])

    def weight_layer_paths(self, wildcards: Mapping) -> dict[str, str]:
        """Readable layer → module path of every weight-space layer of a job's model."""
        model = wildcards["model"]
        return {layer: layer_module(self.config["models"][model], layer)
                for a in self.config["weights"]["analyses"] if a["model"] == model
                for layer in a["layers"]}

    def weight_training(self, wildcards: Mapping) -> dict:
        """The settings of every weight-space training of a model (a dict of scalars)."""
        entry = self.config["models"][wildcards["model"]]
        return {"epochs": self.config["weights"]["epochs"] or entry["epochs"],
                "batch_size": entry["batch_size"], "learning_rate": entry["learning_rate"],
                "weight_decay": entry["weight_decay"]}

    def weight_source(self, wildcards: Mapping) -> dict:
        """What a model's snapshot stores were made from: the training settings and seeds,
        or the given weights (downstream jobs read snapshots as ancient: this param reruns
        them instead)."""
        weights = self.config["models"][wildcards["model"]]["weights"]
        if weights is not None:
            return {"weights": str(weights)}
        return {**self.weight_training(wildcards), "seeds": self.weight_seeds()}

    def weight_point_inputs(self, wildcards: Mapping) -> dict[str, str]:
        """The snapshot a weight cloud is made of, and for an ``-update`` cloud the
        initialisation it is taken relative to (the rule reads both as ancient: a
        retraining that only adds snapshots rewrites the existing ones bit-identically;
        the points job's ``source`` param reruns it when the trainings really change)."""
        snapshot = wildcards["snapshot"]
        inputs = {"snapshot": SNAPSHOT_STORE.format(model=wildcards["model"],
                                                    snapshot=snapshot.removesuffix("-update"))}
        if snapshot.endswith("-update"):
            inputs["initial"] = SNAPSHOT_STORE.format(model=wildcards["model"],
                                                      snapshot="iteration-0")
        return inputs

    def weight_slice(self, wildcards: Mapping) -> str:
        """The filter slice of a weight-space layer's analysis."""
        model, layer = wildcards["model"], wildcards["layer"]
        for a in self.config["weights"]["analyses"]:
            if a["model"] == model and layer in a["layers"]:
                return a["slice"]
        raise ValueError(f"no weights analysis of layer {layer} of {model}")

    def weight_sweep(self, model: str) -> list[tuple[str, int, str]]:
        """(snapshot, k, keep label) of the X(k, p) sweep's dense cores."""
        weights = self.config["weights"]
        return [(s, k, percent_label(p)) for s in self.weight_sweep_snapshots(model)
                for k in weights["density_k"] for p in weights["keep"]]

    def weight_dynamics_cores(self, model: str) -> list[tuple[str, int, str]]:
        """The dynamics' dense core of every snapshot, in training order."""
        dynamics = self.config["weights"]["dynamics"]
        return [(s, dynamics["density_k"], percent_label(dynamics["keep"]))
                for s in self.weight_snapshots(model)]

    def weight_cores(self, model: str) -> list[tuple[str, int, str]]:
        """(snapshot, k, keep label) of every dense core of a model's layers: the X(k, p)
        sweep on the final weights (and their update) and the dynamics' X(k, p) on every
        snapshot."""
        return list(dict.fromkeys([*self.weight_sweep(model),
                                   *self.weight_dynamics_cores(model)]))

    def weight_core_files(self, model: str, layer: str, suffix: str,
                          cores: list | None = None) -> list[str]:
        """One file of each dense core of (model, layer), e.g. ``summary.json``."""
        cores = self.weight_cores(model) if cores is None else cores
        return [WEIGHT_CORE.format(model=model, layer=layer, snapshot=s, k=k, keep=keep)
                + suffix for s, k, keep in cores]

    def weight_sweep_barcodes(self, wildcards: Mapping) -> dict[str, str]:
        """Named ``{snapshot}: X(k, p%)``: the barcodes of a (model, layer)'s sweep."""
        model, layer = wildcards["model"], wildcards["layer"]
        return {f"{s}: X({k}, {keep}%)": WEIGHT_CORE.format(
                    model=model, layer=layer, snapshot=s, k=k, keep=keep) + "barcode.npz"
                for s, k, keep in self.weight_sweep(model)}

    def weight_summaries(self, wildcards: Mapping) -> list[str]:
        """The summary of every dense core of a job's (model, layer)."""
        return self.weight_core_files(wildcards["model"], wildcards["layer"], "summary.json")

    def weight_dynamics_inputs(self, wildcards: Mapping) -> dict[str, list[str]]:
        """Named ``graphs``, ``dense``, ``barcodes``, ``summaries``: those files of the
        dynamics' dense core of every snapshot, in training order."""
        cores = self.weight_dynamics_cores(wildcards["model"])
        files = {"graphs": "mapper.zarr", "dense": "dense.zarr", "barcodes": "barcode.npz",
                 "summaries": "summary.json"}
        return {name: self.weight_core_files(wildcards["model"], wildcards["layer"], file, cores)
                for name, file in files.items()}

    def weight_snapshot_labels(self, wildcards: Mapping) -> list[str]:
        """A job's model's snapshot labels in training order."""
        return self.weight_snapshots(wildcards["model"])

    def weights_outputs(self) -> list[str]:
        """Per weight-space (model, layer): the sweep table and barcodes, the dynamics
        strip, and every dense core's graph figure."""
        files = []
        for a in self.config["weights"]["analyses"]:
            for layer in a["layers"]:
                base = WEIGHTS.format(model=a["model"]) + f"/{layer}"
                files += [f"{base}/h1-bars.tsv", f"{base}/barcodes.png", f"{base}/dynamics.png"]
                files += self.weight_core_files(a["model"], layer, "mapper.png")
        return files

    def weight_explorer_sources(self) -> list[dict]:
        """The weight-space graphs, a run ``weights/{model}`` of their own (snapshot as
        the sampling, X(k, p) as the parameters)."""
        return [
            {"dataset": "weights", "model": a["model"], "seed": 0, "sampling": snapshot,
             "layer": layer, "parameters": f"k-{k}-keep-{keep}",
             "graph": f"{core}mapper.zarr", "points": f"{core}dense.zarr",
             "node_images": f"{core}nodes", "examples": None,
             "run_name": f"weights/{a['model']}"}
            for a in self.config["weights"]["analyses"]
            for layer in a["layers"]
            for snapshot, k, keep in self.weight_cores(a["model"])
            for core in [WEIGHT_CORE.format(model=a["model"], layer=layer, snapshot=snapshot,
                                            k=k, keep=keep)]
        ]

    # ----------------------------------------------------------------- profiles

    def profile_runs(self) -> list[tuple[str, str, int, str, str]]:
        """(dataset, model, seed, neuron kind, folder) of every profile run."""
        return [(dataset, model, seed, neuron,
                 PROFILES.format(dataset=dataset, model=model, seed=seed, neuron=neuron))
                for dataset, model, seed in self.analysis_grid(noisy=False)
                for neuron in self.config["profiles"]["neurons"]]

    def profiles_outputs(self) -> list[str]:
        """Per analysis (dataset, model, seed) and neuron kind: the persistence images and
        the similarity tables and figures."""
        return [f"{base}/{name}" for *_, base in self.profile_runs()
                for name in ("persistence-images.png", "within-across.tsv",
                             "class-jaccard.png")]

    def profile_explorer_sources(self, wildcards: Mapping | None = None) -> list[dict]:
        """The analyses whose profiles the explorer's profiles page shows (ProfileSource
        fields)."""
        return [{"dataset": dataset, "model": model, "seed": int(seed), "neuron": neuron,
                 "profiles": f"{base}/profiles.zarr", "topology": f"{base}/topology.npz",
                 "images": DATA.format(dataset=dataset)}
                for dataset, model, seed, neuron, base in self.profile_runs()]

    def profile_explorer_files(self) -> list[str]:
        """Every file the profiles page reads (stores, topology, the class-level figures)."""
        files = []
        for source in self.profile_explorer_sources():
            base = source["profiles"].rsplit("/", 1)[0]
            files += [source["profiles"], source["topology"], source["images"],
                      *(f"{base}/{name}" for name in ("persistence-images.png",
                                                       "class-jaccard.png",
                                                       "within-across.png", "sizes.png"))]
        return files

    def profile_settings(self) -> dict:
        """The persistence-image grid and the graph metric of the run (every profile's)."""
        graph, image = self.config["profiles"]["graph"], self.config["profiles"]["image"]
        return {"weighting": graph["weighting"], "kernel": graph["kernel"],
                "cap_factor": graph["disconnected_factor"],
                "birth_range": list(image["birth_range"]),
                "pers_range": list(image["pers_range"]),
                "pixel_size": image["pixel_size"], "spread": image["spread"]}

    # ----------------------------------------------------------------- the run

    def targets(self) -> list[str]:
        """Everything the run makes (the default target's inputs), stage by stage."""
        return [*self.trained_models(), *self.activation_stores(), *self.mapper_outputs(),
                *self.stability_outputs(), *self.homology_outputs(),
                *self.featurevis_outputs(), *self.explorer_outputs(), *self.noise_outputs(),
                *self.weights_outputs(), *self.profiles_outputs()]
