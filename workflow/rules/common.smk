# Grid helpers, wildcard constraints and input/param functions (no rules here).
import re

from topoact.layers import IMAGENET_WEIGHTS, is_user_architecture, layer_module, layer_table_of
from topoact.names import (DEEPLAB_WEIGHTS, EPSILON_MODES, NOISE, SAMPLING_PATTERN,
                           cover_prefix, grid_name, grid_parameters, masked_sampling,
                           percent_label)


def choices(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(str(name)) for name in names)



def noise_label(sigma):
    """Canonical label of a noise σ: ``0.1`` for 0.1 and 0.10."""
    return format(float(sigma), "g")


def noisy_datasets(dataset):
    """The noisy variants of a dataset, one per σ of ``activations.noise_sigmas``."""
    return [f"{dataset}{NOISE}{noise_label(s)}" for s in config["activations"]["noise_sigmas"]]


def base_dataset(name):
    """The dataset a (possibly noisy) variant reads its images from."""
    return name.split(NOISE)[0]


def noise_of(name):
    """σ of a dataset variant (0 for the clean dataset)."""
    return float(name.split(NOISE)[1]) if NOISE in name else 0.0


wildcard_constraints:
    dataset=choices([*config["datasets"], *(v for d in config["datasets"] for v in noisy_datasets(d))]),
    model=choices(config["models"]),
    seed=r"\d+",
    architecture=choices(IMAGENET_WEIGHTS),
    sampling=SAMPLING_PATTERN,
    layer=choices(sorted({layer for a in [*config["analyses"], *config["weights"]["analyses"]]
                          for layer in a["layers"]})),
    overlap=r"\d+(\.\d+)?",
    epsilon=choices(EPSILON_MODES),
    snapshot=r"(iteration-\d+|final)(-update)?",
    k=r"\d+",
    keep=r"\d+(\.\d+)?",
    neuron="channel|element",
    shard=r"\d+",


RESULTS = "results"
# Scheduling on a few cores. A two-thread job cannot start beside a one-thread job, so
# the jobs that may take two threads (training, extraction and ε of `full` clouds,
# profiles) go first: after them the DAG is one-thread jobs that pair up, and no core
# idles beside a lone one. Of those, the longest (data examples) start as soon as they
# are ready, not last and alone.
TWO_THREAD_PRIORITY = 10
LONG_JOB_PRIORITY = 5
# A layer's graphs are built before the stability jobs that read them start, so that the
# first of those finds every graph of the layer for its shared pass.
GRAPH_PRIORITY = 1
# Path templates of the stages' outputs (wildcards in braces). A graph's parameter set is
# named as TopoAct names it; the balanced cover's names start with cover-balanced-.
PARAMETERS = f"{cover_prefix(config['mapper']['cover'])}overlap-{{overlap}}-epsilon-{{epsilon}}"
ACTIVATIONS = f"{RESULTS}/activations/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}.zarr"
EPSILON = f"{RESULTS}/epsilon/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}"
GRAPH = f"{RESULTS}/mapper/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{PARAMETERS}/{{layer}}"
# mapper.jobs: shared — a layer's grid pass, built by the first of its graph jobs to run
# and copied by the others (a cache, not a declared output).
LAYER_PASS = f"{RESULTS}/mapper-pass/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}"
# mapper.shards > 1: a cloud's shard plan and each shard's nodes (see topoact.shards).
MAPPER_SHARDS = f"{RESULTS}/mapper-shards/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}"
HOMOLOGY = f"{RESULTS}/homology/{{dataset}}/{{model}}"
FEATUREVIS = f"{RESULTS}/featurevis/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}"
NODE_IMAGES = f"{FEATUREVIS}/{PARAMETERS}/{{layer}}"
# A layer's data examples: which points each rendered graph's nodes show (.json), and
# their images, each point rendered once for all of them.
EXAMPLES = f"{FEATUREVIS}/examples/{{layer}}"
MASKS = f"{RESULTS}/masks/{{dataset}}.zarr"
RECEPTIVE_FIELDS = f"{RESULTS}/receptive_fields/{{dataset}}/{{model}}/seed-{{seed}}/{{layer}}.npz"
STABILITY_RUN = f"{RESULTS}/stability/{{dataset}}/{{model}}/seed-{{seed}}"
STABILITY = f"{STABILITY_RUN}/{{sampling}}/{PARAMETERS}/{{layer}}"
GRID_DISTANCES = f"{STABILITY_RUN}/{{sampling}}/grid-distances/{{layer}}"
# A layer's stability pass on a small cloud, computed by the first of its graph_stability
# jobs to run and copied by the others (a cache, not a declared output).
STABILITY_PASS = f"{RESULTS}/stability-pass/{{dataset}}/{{model}}/seed-{{seed}}/{{sampling}}/{{layer}}"


def parameters_name(overlap, epsilon):
    """The name of a graph's parameter set (its folder), e.g. overlap-30-epsilon-adaptive."""
    return grid_name(overlap, epsilon, config["mapper"]["cover"])


def graph_parameters(wildcards):
    """The parameter-set name of a graph job's wildcards (titles, table columns)."""
    return parameters_name(wildcards.overlap, wildcards.epsilon)


def gpu_request(wildcards=None):
    """GPU stages ask the scheduler for a GPU only when the config says cuda."""
    return 1 if config["device"] == "cuda" else 0


def dataset_options(wildcards):
    """A dataset's config entry, its root defaulting to resources/{dataset}."""
    options = dict(config["datasets"][wildcards.dataset])
    options["root"] = options["root"] or f"resources/{wildcards.dataset}"
    return options


def segmentation(wildcards):
    """The segmentation method of a (base) dataset's foreground masks."""
    return config["datasets"][base_dataset(wildcards.dataset)]["segmentation"]


def segmentation_weights(wildcards):
    """DeepLabV3's weights file when the dataset's masks come from it."""
    return DEEPLAB_WEIGHTS if segmentation(wildcards) == "deeplabv3" else []


def foreground_inputs(wildcards):
    """Masks and receptive fields a masked sampling needs ([masks, fields]), else nothing.

    Noisy variants use their clean base's masks and fields: the object is where it was.
    """
    if not masked_sampling(wildcards.sampling):
        return []
    base = base_dataset(wildcards.dataset)
    return [MASKS.format(dataset=base),
            RECEPTIVE_FIELDS.format(dataset=base, model=wildcards.model, seed=wildcards.seed,
                                    layer=wildcards.layer)]


def download_marker(wildcards):
    """The download a dataset waits for (only when its config asks for one)."""
    if config["datasets"][wildcards.dataset]["download"]:
        return f"{RESULTS}/downloads/{wildcards.dataset}.done"
    return []


def dataset_images(wildcards):
    """The images store a (possibly noisy) dataset variant reads."""
    return f"{RESULTS}/data/{base_dataset(wildcards.dataset)}.zarr"


def noise_outputs():
    """Example perturbed images per dataset, and purity against σ per (dataset, model, seed)."""
    if not config["activations"]["noise_sigmas"]:
        return []
    files = [f"{RESULTS}/noise/{d}-examples.png" for d in {a["dataset"] for a in config["analyses"]}]
    if config["mapper"]["samplings"]:
        files += [
            f"{RESULTS}/purity/{dataset}/{model}/seed-{seed}/noise-purity.png"
            for dataset, model, seed in analysis_grid(noisy=False)
        ]
    return files


def purity_tables_by_noise(wildcards):
    """The purity summaries of the clean dataset and of each noisy variant, in the order
    of :func:`noise_sigmas` (σ 0 first)."""
    base = f"{RESULTS}/purity/{{}}/{wildcards.model}/seed-{wildcards.seed}/purity.tsv"
    return [base.format(d) for d in [wildcards.dataset, *noisy_datasets(wildcards.dataset)]]


def noise_sigmas(wildcards):
    """σ of the clean dataset (0) and of each noisy variant, as purity_tables_by_noise."""
    return [0.0] + [noise_of(v) for v in noisy_datasets(wildcards.dataset)]


def model_config(wildcards):
    return config["models"][wildcards.model]


def training_images(wildcards):
    return f"{RESULTS}/data/{model_config(wildcards)['dataset']}.zarr"


def model_inputs(wildcards):
    """What a model is made from: its training images, or the weights it is given."""
    model = model_config(wildcards)
    if model["weights"] is None:
        return {"images": training_images(wildcards)}
    if model["weights"] == "imagenet":
        return {"weights": f"resources/weights/{model['architecture']}-imagenet.pt"}
    return {"weights": model["weights"]}


def model_spec(wildcards):
    """A built-in's name, or a user model's entry (architecture, kwargs, input_size,
    normalize): what builds it, so that a change of kwargs reruns its jobs."""
    model = model_config(wildcards)
    if not is_user_architecture(model["architecture"]):
        return model["architecture"]
    return {k: model[k] for k in ("architecture", "kwargs", "input_size", "normalize", "weights")}


def model_architecture(model):
    """The layer table of a model's config entry (built-in or user)."""
    return layer_table_of(model)


def layer_module_path(wildcards):
    return layer_module(model_config(wildcards), wildcards.layer)


def trained_models():
    """Weights of every (model, seed) some analysis uses."""
    return sorted(
        {
            f"{RESULTS}/models/{a['model']}/seed-{seed}.pt"
            for a in config["analyses"]
            for seed in a["seeds"]
        }
    )


def activation_stores():
    """Activation stores of every (analysis, seed, sampling, layer) of the config."""
    return sorted(
        {
            ACTIVATIONS.format(dataset=a["dataset"], model=a["model"], seed=seed,
                               sampling=sampling, layer=layer)
            for a in config["analyses"]
            for seed in a["seeds"]
            for sampling in config["activations"]["samplings"]
            for layer in a["layers"]
        }
    )


def analysis_grid(noisy=True):
    """(dataset, model, seed) of every analysis, with the noisy dataset variants."""
    return sorted(
        {
            (dataset, a["model"], seed)
            for a in config["analyses"]
            for seed in a["seeds"]
            for dataset in [a["dataset"], *(noisy_datasets(a["dataset"]) if noisy else [])]
        }
    )


def analysis_layers(dataset, model):
    return sorted(
        {
            layer
            for a in config["analyses"]
            if (a["dataset"], a["model"]) == (base_dataset(dataset), model)
            for layer in a["layers"]
        }
    )


def mapper_graphs(dataset, model, seed, suffix):
    """Files of every graph of the mapper grid for one (dataset, model, seed)."""
    return [
        GRAPH.format(dataset=dataset, model=model, seed=seed, sampling=sampling, layer=layer,
                     overlap=percent_label(overlap), epsilon=epsilon) + suffix
        for sampling in config["mapper"]["samplings"]
        for layer in analysis_layers(dataset, model)
        for overlap, epsilon in layer_grid_parameters()
    ]


def all_mapper_outputs():
    """ε plots, graph figures and exports, and purity tables of the whole grid."""
    files = []
    if not config["mapper"]["samplings"]:
        return files
    for dataset, model, seed in analysis_grid():
        files += mapper_graphs(dataset, model, seed, ".png")
        files += mapper_graphs(dataset, model, seed, ".json")
        files.append(f"{RESULTS}/purity/{dataset}/{model}/seed-{seed}/purity.tsv")
        if "adaptive" in config["mapper"]["epsilons"]:
            files += [
                EPSILON.format(dataset=dataset, model=model, seed=seed, sampling=s, layer=l)
                + ".png"
                for s in config["mapper"]["samplings"]
                for l in analysis_layers(dataset, model)
            ]
    return files


def graph_epsilon_input(wildcards):
    """The ε estimate a graph reads, for adaptive ε only."""
    if wildcards.epsilon == "adaptive":
        return EPSILON.format(**wildcards) + ".json"
    return []


def layer_grid_graphs(suffix):
    """Files of every graph of one (dataset, model, seed, sampling, layer)'s grid, in the
    order of layer_grid_parameters (the other wildcards left in place)."""
    return [
        GRAPH.replace("{overlap}", percent_label(overlap)).replace("{epsilon}", epsilon)
        + suffix
        for overlap, epsilon in layer_grid_parameters()
    ]


def layer_grid_parameters():
    """(overlap percent, ε mode) of every graph of a layer's grid."""
    return grid_parameters(config["mapper"]["overlaps"], config["mapper"]["epsilons"])


def cloud_threads(wildcards):
    """Threads of a cloud's extraction and ε job: 2 for a `full` cloud (every position of
    every image), 1 for the clouds of one or a few points per image, whose jobs are
    mostly start-up (measured: 2.5 s each, half of it importing torch) and run two side by
    side instead. Their outputs are the same either way."""
    return 2 if wildcards.sampling == "full" else 1


def graph_threads(wildcards):
    """Threads of a graph's job: 1, so that a grid's jobs run side by side; with
    mapper.jobs: shared, a `full` cloud's jobs get grid_threads, since the first of a
    layer runs the whole layer's pass (and the others would wait for it)."""
    return grid_threads(wildcards) if config["mapper"]["jobs"] == "shared" else 1


def grid_threads(wildcards):
    """Threads of a layer's grid job: 2 for a `full` cloud (every position of every
    image), where the engine's distance products dominate; 1 for the clouds of one or a
    few points per image, whose jobs are mostly single-threaded start-up, layout and
    figures (measured: CPU time = wall time) and run two side by side instead."""
    return 2 if wildcards.sampling == "full" else 1


def shard_nodes_input(wildcards):
    """The shards' nodes a layer's grid job gathers (none unless mapper.shards > 1)."""
    shards = config["mapper"]["shards"]
    if shards == 1:
        return []
    return [f"{MAPPER_SHARDS}/shard-{shard}.zarr".format(**wildcards) for shard in range(shards)]


def shard_plan_input(wildcards):
    """A layer's shard plan, when mapper.shards > 1."""
    if config["mapper"]["shards"] == 1:
        return []
    return f"{MAPPER_SHARDS}/plan.zarr".format(**wildcards)


def layer_epsilon_input(wildcards):
    """The ε estimate a layer's grid reads, when the grid has adaptive ε."""
    if "adaptive" in config["mapper"]["epsilons"]:
        return EPSILON.format(**wildcards) + ".json"
    return []


def graph_fixed_epsilon(wildcards):
    return config["mapper"]["fixed_epsilon"] if wildcards.epsilon == "fixed" else None


def model_layer_names(name):
    """A model's layers in depth order: a built-in's readable names; a user model's module
    paths in the order the config lists them."""
    architecture = model_architecture(config["models"][name])
    if architecture.spec is None:
        return list(architecture.layers)
    listed = [layer for a in [*config["analyses"], *config["weights"]["analyses"]]
              if a["model"] == name for layer in a["layers"]]
    return list(dict.fromkeys(listed))


def layer_order(wildcards):
    """Layers of the model's architecture in depth order (for purity plots)."""
    return model_layer_names(wildcards.model)



def homology_outputs():
    """Diagram figures, distance heatmaps, and the specificity/sensitivity tests."""
    files = []
    seeds = config["homology"]["seeds"]
    for a in config["analyses"]:
        base = HOMOLOGY.format(dataset=a["dataset"], model=a["model"])
        for seed in seeds:
            files.append(f"{base}/seed-{seed}/sw-distances.tsv")
            files += [f"{base}/seed-{seed}/diagrams/{layer}.png" for layer in a["layers"]]
        if len(seeds) > 1:
            files += [f"{base}/specificity.tsv", f"{base}/sensitivity.tsv"]
    return files


def ordered_layers(wildcards):
    """The analysed layers of (dataset, model) in the architecture's depth order."""
    chosen = set(analysis_layers(wildcards.dataset, wildcards.model))
    return [layer for layer in layer_order(wildcards) if layer in chosen]


def model_diagrams(wildcards, seed=None):
    seed = wildcards.seed if seed is None else seed
    return [
        f"{HOMOLOGY}/seed-{seed}/diagrams/{layer}.npz".format(**wildcards)
        for layer in ordered_layers(wildcards)
    ]


def diagrams_by_seed(wildcards):
    """Named inputs ``seed-S``: the layer diagrams of each homology seed."""
    return {f"seed-{seed}": model_diagrams(wildcards, seed) for seed in config["homology"]["seeds"]}


def reference_top_l2_stores(wildcards):
    seed = config["homology"]["seeds"][0]
    return [
        ACTIVATIONS.format(dataset=wildcards.dataset, model=wildcards.model, seed=seed,
                           sampling="top-l2", layer=layer)
        for layer in ordered_layers(wildcards)
    ]


def render_settings(wildcards):
    """Feature-visualization settings (a small dict: every key changes the images)."""
    fv = config["featurevis"]
    size = fv["image_size"] or model_architecture(model_config(wildcards)).input_size
    return {
        "steps": fv["steps"], "batch_size": fv["batch_size"], "image_size": size,
        "power": fv["power"], "learning_rate": fv["learning_rate"], "seed": fv["seed"],
    }


def model_weights(wildcards):
    return f"{RESULTS}/models/{wildcards.model}/seed-{wildcards.seed}.pt"


def layer_graphs(wildcards):
    """Named inputs: the graph store of every (overlap, ε) of one (sampling, layer)."""
    return {
        parameters_name(overlap, epsilon): "{}.zarr".format(
            GRAPH.format(overlap=percent_label(overlap), epsilon=epsilon, **wildcards)
        )
        for overlap in config["mapper"]["overlaps"]
        for epsilon in config["mapper"]["epsilons"]
    }


def rendered_samplings():
    """Samplings whose graphs get activation images (those without graphs have none)."""
    return [s for s in config["featurevis"]["samplings"] if s in config["mapper"]["samplings"]]


def opening_parameters():
    """The parameter set the explorer opens on: the grid's first overlap and first ε."""
    return layer_grid_parameters()[0]


def rendered_parameters():
    """(overlap, ε) of the graphs of a layer that get activation images: the one the
    explorer opens on (featurevis.graphs: opening) or every graph of the grid (all)."""
    if config["featurevis"]["graphs"] == "all":
        return layer_grid_parameters()
    return [opening_parameters()]


def examples_on():
    fv = config["featurevis"]
    return fv["examples_per_class"] > 0 or fv["all_examples"]


def rendered_layer_graphs(wildcards):
    """Named inputs: the graph store of each rendered (overlap, ε) of one (sampling,
    layer), whose nodes' data examples the layer's selection lists."""
    return {
        parameters_name(overlap, epsilon): "{}.zarr".format(
            GRAPH.format(overlap=percent_label(overlap), epsilon=epsilon, **wildcards))
        for overlap, epsilon in rendered_parameters()
    }


def example_selection(wildcards):
    """Rendering every point does not depend on which points the graphs show."""
    if config["featurevis"]["all_examples"]:
        return []
    return f"{EXAMPLES.format(**wildcards)}.json"


def featurevis_outputs():
    """Node-average images with contact sheets of the rendered graphs, and each layer's
    data-example images (of the clean datasets: the noisy variants get graphs and purity
    only)."""
    files = []
    for dataset, model, seed in analysis_grid(noisy=False):
        for sampling in rendered_samplings():
            for layer in analysis_layers(dataset, model):
                names = dict(dataset=dataset, model=model, seed=seed, sampling=sampling,
                             layer=layer)
                for overlap, epsilon in rendered_parameters():
                    node_images = NODE_IMAGES.format(overlap=percent_label(overlap),
                                                     epsilon=epsilon, **names)
                    files += [node_images, f"{node_images}.contact.png"]
                if examples_on():
                    examples = EXAMPLES.format(**names)
                    files += [examples, f"{examples}.json"]
    return files


def explorer_sources(wildcards=None):
    """Every graph the explorer shows, with the files it reads for it (GraphSource fields)."""
    sources = []
    rendered = {(percent_label(o), e) for o, e in rendered_parameters()}
    for dataset, model, seed in analysis_grid():
        for sampling in config["mapper"]["samplings"]:
            for layer in analysis_layers(dataset, model):
                names = dict(dataset=dataset, model=model, seed=seed, sampling=sampling,
                             layer=layer)
                for overlap, epsilon in layer_grid_parameters():
                    graph = dict(names, overlap=percent_label(overlap), epsilon=epsilon)
                    images = (sampling in rendered_samplings() and noise_of(dataset) == 0
                              and (graph["overlap"], epsilon) in rendered)
                    base = GRAPH.format(**graph)
                    examples = EXAMPLES.format(**names)
                    sources.append({
                        "dataset": dataset, "model": model, "seed": int(seed),
                        "sampling": sampling, "layer": layer,
                        "parameters": parameters_name(overlap, epsilon),
                        "graph": f"{base}.zarr", "points": ACTIVATIONS.format(**names),
                        "node_images": NODE_IMAGES.format(**graph) if images else None,
                        "examples": [f"{examples}.json", examples]
                        if images and examples_on() else None,
                        "stability": STABILITY.format(**graph) + ".json"
                        if sampling in stability_samplings() else None,
                        "purity": f"{base}.purity.tsv",
                    })
    return sources + weight_explorer_sources()


def explorer_settings(wildcards=None):
    """What the explorer page says of the run: the parameter set it opens on, and which
    graphs have activation images (its note on a graph without them)."""
    fv = config["featurevis"]
    return {"opening": parameters_name(*opening_parameters()),
            "images": {"samplings": rendered_samplings(), "graphs": fv["graphs"]}}


def weight_explorer_sources():
    """The weight-space graphs, a run ``weights/{model}`` of their own (snapshot as the
    sampling, X(k, p) as the parameters)."""
    sources = []
    for a in config["weights"]["analyses"]:
        for layer in a["layers"]:
            for snapshot, k, keep in weight_cores(a["model"]):
                core = WEIGHT_CORE.format(model=a["model"], layer=layer, snapshot=snapshot,
                                          k=k, keep=keep)
                sources.append({
                    "dataset": "weights", "model": a["model"], "seed": 0,
                    "sampling": snapshot, "layer": layer, "parameters": f"k-{k}-keep-{keep}",
                    "graph": f"{core}mapper.zarr", "points": f"{core}dense.zarr",
                    "node_images": f"{core}nodes", "examples": None,
                    "run_name": f"weights/{a['model']}",
                })
    return sources


def explorer_inputs(wildcards=None):
    """The files of every explorer source (so the explorer waits for all of them)."""
    files = set(profile_explorer_files())
    for source in explorer_sources():
        files.update([source["graph"], source["points"]])
        if source["node_images"]:
            files.add(source["node_images"])
        if source["examples"]:
            files.update(source["examples"])
        files.update(source[key] for key in ("stability", "purity") if source.get(key))
    return sorted(files)


def model_layer_orders(wildcards=None):
    """Per model, its architecture's layers in depth order."""
    return {
        name: model_layer_names(name) for name in config["models"]
    }


def explorer_outputs():
    return [f"{RESULTS}/explorer"] if config["mapper"]["samplings"] else []


# --------------------------------------------------------------------------- weight space

WEIGHTS = f"{RESULTS}/weights/{{model}}"
SNAPSHOT_STORE = f"{WEIGHTS}/snapshots/{{snapshot}}.zarr"
WEIGHT_POINTS = f"{WEIGHTS}/{{layer}}/{{snapshot}}/points.zarr"
WEIGHT_CORE = f"{WEIGHTS}/{{layer}}/{{snapshot}}/k-{{k}}-keep-{{keep}}/"  # + a file name
NEVER = "(?!)"  # a wildcard constraint no value matches


def weight_models(trainable):
    """Models of the weight-space analyses that are trained (or given their weights)."""
    return sorted({a["model"] for a in config["weights"]["analyses"]
                   if (config["models"][a["model"]]["weights"] is None) == trainable})


def weight_model_constraint(trainable):
    names = weight_models(trainable)
    return choices(names) if names else NEVER


def weight_seeds():
    """The weight-space trainings: seeds 0..N-1 for a count N, or the listed seeds."""
    seeds = config["weights"]["seeds"]
    return list(range(seeds)) if isinstance(seeds, int) else sorted(seeds)


def trained_snapshots():
    """Snapshot labels of a trained model, in training order."""
    return [f"iteration-{i}" for i in sorted(config["weights"]["snapshots"])] + ["final"]


def weight_snapshots(model):
    """Snapshot labels of a model in training order (a model with given weights: final)."""
    return ["final"] if config["models"][model]["weights"] is not None else trained_snapshots()


def trained_snapshot_stores():
    """The snapshot stores of a trained model (``{model}`` left in place)."""
    return [SNAPSHOT_STORE.replace("{snapshot}", label) for label in trained_snapshots()]


def weight_layer_paths(wildcards):
    """Readable layer → module path of every weight-space layer of a model."""
    model = model_config(wildcards)
    return {layer: layer_module(model, layer)
            for a in config["weights"]["analyses"] if a["model"] == wildcards.model
            for layer in a["layers"]}


def weight_training(wildcards):
    """The settings of every weight-space training of a model (a dict of scalars)."""
    model = model_config(wildcards)
    return {"epochs": config["weights"]["epochs"] or model["epochs"],
            "batch_size": model["batch_size"], "learning_rate": model["learning_rate"],
            "weight_decay": model["weight_decay"]}


def weight_source(wildcards):
    """What a snapshot store was made from: the training settings and seeds, or the given
    weights (downstream jobs read snapshots as ancient: this param reruns them instead)."""
    if model_config(wildcards)["weights"] is not None:
        return {"weights": str(model_config(wildcards)["weights"])}
    return {**weight_training(wildcards), "seeds": weight_seeds()}


def weight_slice(wildcards):
    for a in config["weights"]["analyses"]:
        if a["model"] == wildcards.model and wildcards.layer in a["layers"]:
            return a["slice"]
    raise ValueError(f"no weights analysis of layer {wildcards.layer} of {wildcards.model}")


def weight_updates(model):
    """Whether the learned update W - W₀ of a model's final weights is analysed too (only
    a trained model has an initialisation)."""
    return config["weights"]["updates"] and config["models"][model]["weights"] is None


def weight_sweep_snapshots(model):
    """The snapshots that get the whole X(k, p) sweep: the final weights (and their update)."""
    return ["final", "final-update"] if weight_updates(model) else ["final"]


def weight_cores(model):
    """(snapshot, k, keep label) of every dense core of a model's layers: the X(k, p)
    sweep on the final weights (and their update) and the dynamics' X(k, p) on every
    snapshot."""
    w = config["weights"]
    dynamics = (w["dynamics"]["density_k"], percent_label(w["dynamics"]["keep"]))
    cores = [(s, k, percent_label(p)) for s in weight_sweep_snapshots(model)
             for k in w["density_k"] for p in w["keep"]]
    cores += [(s, *dynamics) for s in weight_snapshots(model)]
    return list(dict.fromkeys(cores))


def weight_point_inputs(wildcards):
    """The snapshot a weight cloud is made of, and for an ``-update`` cloud the
    initialisation it is taken relative to. Ancient: a retraining that only adds
    snapshots rewrites the existing ones bit-identically; the points job's ``source``
    param reruns it when the trainings really change."""
    base = wildcards.snapshot.removesuffix("-update")
    inputs = {"snapshot": ancient(SNAPSHOT_STORE.format(model=wildcards.model, snapshot=base))}
    if wildcards.snapshot.endswith("-update"):
        inputs["initial"] = ancient(SNAPSHOT_STORE.format(model=wildcards.model,
                                                          snapshot="iteration-0"))
    return inputs


def weight_core_files(wildcards, suffix, cores=None):
    """One file of each dense core of (model, layer), e.g. ``summary.json``."""
    cores = weight_cores(wildcards.model) if cores is None else cores
    return [WEIGHT_CORE.format(model=wildcards.model, layer=wildcards.layer, snapshot=s,
                               k=k, keep=keep) + suffix for s, k, keep in cores]


def weight_sweep_barcodes(wildcards):
    """Named inputs ``{snapshot}: X(k, p%)``: the barcodes of the sweep."""
    w = config["weights"]
    return {f"{s}: X({k}, {percent_label(p)}%)": WEIGHT_CORE.format(
                model=wildcards.model, layer=wildcards.layer, snapshot=s, k=k,
                keep=percent_label(p)) + "barcode.npz"
            for s in weight_sweep_snapshots(wildcards.model)
            for k in w["density_k"] for p in w["keep"]}


def weight_dynamics_cores(wildcards):
    """The dynamics' dense core of every snapshot, in training order."""
    w = config["weights"]["dynamics"]
    return [(s, w["density_k"], percent_label(w["keep"])) for s in weight_snapshots(wildcards.model)]


def weight_dynamics_inputs(wildcards):
    """Named inputs ``graphs``, ``dense``, ``barcodes``, ``summaries``: those files of the
    dynamics' dense core of every snapshot, in training order."""
    cores = weight_dynamics_cores(wildcards)
    files = {"graphs": "mapper.zarr", "dense": "dense.zarr", "barcodes": "barcode.npz",
             "summaries": "summary.json"}
    return {name: weight_core_files(wildcards, file, cores) for name, file in files.items()}


def weights_outputs():
    """Per weight-space (model, layer): the sweep table and barcodes, the dynamics strip,
    and every dense core's graph figure."""
    files = []
    for a in config["weights"]["analyses"]:
        for layer in a["layers"]:
            base = f"{RESULTS}/weights/{a['model']}/{layer}"
            files += [f"{base}/h1-bars.tsv", f"{base}/barcodes.png", f"{base}/dynamics.png"]
            files += [WEIGHT_CORE.format(model=a["model"], layer=layer, snapshot=s, k=k,
                                         keep=keep) + "mapper.png"
                      for s, k, keep in weight_cores(a["model"])]
    return files


# --------------------------------------------------------------------------- profiles

PROFILES = f"{RESULTS}/profiles/{{dataset}}/{{model}}/seed-{{seed}}/{{neuron}}"


def profile_settings():
    """The persistence-image grid and the graph metric of the run (every profile's)."""
    graph, image = config["profiles"]["graph"], config["profiles"]["image"]
    return {"weighting": graph["weighting"], "kernel": graph["kernel"],
            "cap_factor": graph["disconnected_factor"],
            "birth_range": list(image["birth_range"]), "pers_range": list(image["pers_range"]),
            "pixel_size": image["pixel_size"], "spread": image["spread"]}


def profiles_outputs():
    """Per analysis (dataset, model, seed) and neuron kind: the store, the persistence
    images and the similarity tables and figures."""
    files = []
    for dataset, model, seed in analysis_grid(noisy=False):
        for neuron in config["profiles"]["neurons"]:
            base = PROFILES.format(dataset=dataset, model=model, seed=seed, neuron=neuron)
            files += [f"{base}/persistence-images.png", f"{base}/within-across.tsv",
                      f"{base}/class-jaccard.png"]
    return files


def profile_explorer_sources(wildcards=None):
    """The analyses whose profiles the explorer's profiles page shows (ProfileSource fields)."""
    sources = []
    for dataset, model, seed in analysis_grid(noisy=False):
        for neuron in config["profiles"]["neurons"]:
            base = PROFILES.format(dataset=dataset, model=model, seed=seed, neuron=neuron)
            sources.append({"dataset": dataset, "model": model, "seed": int(seed),
                            "neuron": neuron, "profiles": f"{base}/profiles.zarr",
                            "topology": f"{base}/topology.npz",
                            "images": f"{RESULTS}/data/{dataset}.zarr"})
    return sources


def profile_explorer_files():
    """Every file the profiles page reads (stores, topology, the class-level figures)."""
    files = []
    for source in profile_explorer_sources():
        base = source["profiles"].rsplit("/", 1)[0]
        files += [source["profiles"], source["topology"], source["images"],
                  *(f"{base}/{name}" for name in ("persistence-images.png", "class-jaccard.png",
                                                   "within-across.png", "sizes.png"))]
    return files


# --------------------------------------------------------------------------- stability


def stability_samplings():
    """Mapper samplings whose graphs get the stability stage."""
    return [s for s in config["stability"]["samplings"] if s in config["mapper"]["samplings"]]


def stability_graphs(dataset, model, seed, suffix):
    """The stability files of every graph of one (dataset, model, seed)'s grid."""
    return [
        STABILITY.format(dataset=dataset, model=model, seed=seed, sampling=sampling,
                         layer=layer, overlap=percent_label(overlap), epsilon=epsilon) + suffix
        for sampling in stability_samplings()
        for layer in analysis_layers(dataset, model)
        for overlap, epsilon in layer_grid_parameters()
    ]


def grid_distance_files(dataset, model, seed, suffix):
    """Per (sampling, layer): the distances between its grid's graphs (with two or more)."""
    if len(layer_grid_parameters()) < 2:
        return []
    return [
        GRID_DISTANCES.format(dataset=dataset, model=model, seed=seed, sampling=sampling,
                              layer=layer) + suffix
        for sampling in stability_samplings()
        for layer in analysis_layers(dataset, model)
    ]


def stability_outputs():
    """Per graph its diagram figure; per layer its grid's distances; per (dataset, model,
    seed) the summary; per clean analysis with noise, the noise distances."""
    if not stability_samplings():
        return []
    files = []
    for dataset, model, seed in analysis_grid():
        run = STABILITY_RUN.format(dataset=dataset, model=model, seed=seed)
        files += stability_graphs(dataset, model, seed, ".png")
        files += grid_distance_files(dataset, model, seed, ".png")
        files += [f"{run}/summary.tsv", f"{run}/significant-features.png"]
    if config["activations"]["noise_sigmas"]:
        for dataset, model, seed in analysis_grid(noisy=False):
            run = STABILITY_RUN.format(dataset=dataset, model=model, seed=seed)
            files.append(f"{run}/noise-distances.png")
    return files


def stability_summary_inputs(wildcards):
    return {
        "records": stability_graphs(wildcards.dataset, wildcards.model, wildcards.seed,
                                    ".json"),
        "distances": grid_distance_files(wildcards.dataset, wildcards.model, wildcards.seed,
                                         ".tsv"),
    }


def noise_graph_pairs(wildcards):
    """Each stability graph of the clean dataset with its noisy variant at each σ."""
    pairs = []
    for variant in noisy_datasets(wildcards.dataset):
        for sampling in stability_samplings():
            for layer in analysis_layers(wildcards.dataset, wildcards.model):
                for overlap, epsilon in layer_grid_parameters():
                    names = dict(model=wildcards.model, seed=wildcards.seed, sampling=sampling,
                                 layer=layer, overlap=percent_label(overlap), epsilon=epsilon)
                    pairs.append({
                        "sampling": sampling, "layer": layer, "sigma": noise_of(variant),
                        "parameters": parameters_name(overlap, epsilon),
                        "clean": GRAPH.format(dataset=wildcards.dataset, **names) + ".zarr",
                        "noisy": GRAPH.format(dataset=variant, **names) + ".zarr",
                    })
    return pairs


def noise_graph_inputs(wildcards):
    return sorted({pair[k] for pair in noise_graph_pairs(wildcards) for k in ("clean", "noisy")})
