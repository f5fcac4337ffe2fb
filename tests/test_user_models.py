"""Your own model: an architecture by import path, layers by module path, token outputs."""

import json
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from conftest import planned_outputs, snakemake, tiny_config, write_config
from topoact import activations, cli, layers, models, sampling, store
from topoact.featurevis import render
from topoact.steps.activations import extract_activations
from topoact.steps.models import pretrained_from_file

NETS = textwrap.dedent('''
    import torch
    from torch import nn


    def build_net(width: int = 8, classes: int = 10) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, classes))


    class Pair(nn.Module):
        def forward(self, x):
            return x, x


    def build_pair() -> nn.Module:
        return nn.Sequential(nn.Conv2d(3, 4, 3), Pair())


    def not_a_module():
        return 3
''')

MINE = {"architecture": "mynets:build_net", "kwargs": {"width": 8}, "input_size": 32,
        "normalize": None}
VIT = {"architecture": "torchvision.models.vision_transformer:VisionTransformer",
       "kwargs": {"image_size": 32, "patch_size": 8, "num_layers": 2, "num_heads": 2,
                  "hidden_dim": 32, "mlp_dim": 64, "num_classes": 10},
       "input_size": 32, "normalize": {"mean": [0.31] * 3, "std": [0.32] * 3}}


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    """A model file in the working directory, as a user keeps it beside their config."""
    (tmp_path / "mynets.py").write_text(NETS)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("mynets", None)


def user_config(model: dict, layers: list[str], **extra) -> dict:
    config = tiny_config()
    config["models"] = {"mine": {**model, "dataset": "digits", "epochs": 1}}
    config["analyses"] = [{"dataset": "digits", "model": "mine", "seeds": [0],
                           "layers": layers}]
    config.update(extra)
    return config


def test_a_user_model_by_import_path_is_built_and_its_layers_are_module_paths(user_package):
    arch = models.architecture_of(MINE)
    model = arch.build(10)
    assert isinstance(model[0], nn.Conv2d) and model[0].out_channels == 8
    assert layers.layer_module(MINE, "3") == "3"
    wrapped = {**MINE, "normalize": {"mean": [0.5] * 3, "std": [0.25] * 3}}
    assert layers.layer_module(wrapped, "3") == "net.3"
    assert isinstance(models.architecture_of(wrapped).build(10).net[3], nn.Conv2d)
    assert layers.layer_module("small-cnn", "conv3") == "conv3"  # readable names stay


def test_user_model_activations_equal_a_plain_forward_hook(user_package, digits_store, tmp_path):
    model = models.architecture_of(MINE).build(10).eval()
    out = tmp_path / "acts.zarr"
    settings = activations.ExtractionSettings(sampling="full", split="test", batch_size=100)
    extract_activations(model, "3", digits_store, out, settings,
                        torch.device("cpu"), progress=False)
    cloud = store.read_activations(out)
    group = store.open_store(digits_store, "images")
    start, stop = store.split_range(store.image_store_info(group), "test")
    captured = {}
    model[3].register_forward_hook(lambda m, i, o: captured.update(o=o))
    with torch.no_grad():
        model(activations.to_input(group["images"][start:stop], torch.device("cpu")))
    expected = captured["o"].permute(0, 2, 3, 1).reshape(-1, 16).numpy()
    np.testing.assert_allclose(cloud.points, expected, rtol=1e-5, atol=1e-6)


def test_token_outputs_are_positions_after_the_skipped_tokens():
    tokens = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)
    spatial = sampling.as_spatial(tokens, skip_tokens=1)
    assert spatial.shape == (2, 3, 1, 4)
    torch.testing.assert_close(spatial[1, :, 0, 2], tokens[1, 3])
    batch, rows, cols = sampling.select_positions(spatial, "top-l2", np.arange(2))
    assert cols.tolist() == [3, 3]  # the largest-norm token (the last) of each image
    with pytest.raises(ValueError, match=r"layer 'blocks.1' outputs shape \(2, 3, 4, 5, 6\)"):
        sampling.as_spatial(torch.zeros(2, 3, 4, 5, 6), layer="blocks.1")
    with pytest.raises(ValueError, match="outputs a tuple"):
        sampling.as_spatial((tokens, tokens), layer="pair")
    with pytest.raises(ValueError, match="none is left"):
        sampling.as_spatial(tokens, skip_tokens=5)


def test_clear_errors_for_a_user_model(user_package, tmp_path):
    with pytest.raises(ValueError, match="cannot import 'nowhere'"):
        models.architecture_of({**MINE, "architecture": "nowhere:build"}).build(10)
    with pytest.raises(ValueError, match="returned int, not a torch.nn.Module"):
        models.architecture_of({**MINE, "architecture": "mynets:not_a_module",
                                "kwargs": {}}).build(10)
    with pytest.raises(ValueError, match="called with kwargs {'depth': 3}"):
        models.architecture_of({**MINE, "kwargs": {"depth": 3}}).build(10)
    with pytest.raises(ValueError, match=r"has no callable 'missing'"):
        models.architecture_of({**MINE, "architecture": "mynets:missing"}).build(10)
    model = models.architecture_of(MINE).build(10)
    with pytest.raises(ValueError, match=r"no module '33'; nearest: \['3'\]"):
        models.find_module(model, "33")
    torch.save(model, tmp_path / "whole.pt")
    with pytest.raises(ValueError, match="pickled whole module is refused"):
        models.load_weights(model, tmp_path / "whole.pt")
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("8.")}
    state["extra.bias"] = torch.zeros(1)
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(ValueError, match=r"missing keys \['8.weight', '8.bias'\], "
                                         r"unexpected keys \['extra.bias'\]"):
        models.load_weights(model, tmp_path / "partial.pt")
    pair_spec = {**MINE, "architecture": "mynets:build_pair", "kwargs": {}}
    pair = models.architecture_of(pair_spec).build(10)
    with activations.capture_layer(pair, "1") as captured:
        output = activations.run_to_layer(pair, torch.zeros(1, 3, 8, 8), captured)
    with pytest.raises(ValueError, match="layer '1' outputs a tuple"):
        sampling.as_spatial(output, layer="1")
    with pytest.raises(ValueError, match="one logit per class"):
        models.check_logits(pair, models.architecture_of(pair_spec), 10)


def test_layers_command_lists_module_paths_and_shapes(user_package, capsys):
    config = write_config(user_package, user_config(MINE, ["3"]))
    assert cli.main(["layers", "--model", "mine", "--config", str(config)]) == 0
    listed = capsys.readouterr().out
    assert "  3 " in listed and "(16, 16, 16)" in listed and "(10,)" in listed
    assert cli.main(["layers", "--spec", "torchvision.models:resnet18", "--input-size",
                     "64"]) == 0
    assert "layer3.1.conv2" in capsys.readouterr().out
    assert cli.main(["layers", "--spec", VIT["architecture"], "--kwargs",
                     json.dumps(VIT["kwargs"]), "--input-size", "32"]) == 0
    listed = capsys.readouterr().out
    assert "encoder.layers.encoder_layer_1" in listed and "(17, 32)" in listed


@pytest.mark.workflow
def test_every_stage_of_the_default_run_completes_on_a_user_model(user_package):
    config = user_config(MINE, ["3", "8"], profiles={
        "neurons": ["channel"], "images_per_class": 2, "permutations": 20})
    # Every stage, each at its smallest: one sampling with graphs, one model compared.
    config["activations"]["samplings"] = ["random", "top-l2"]
    config["mapper"]["samplings"] = ["random"]
    config["homology"] = {**config["homology"], "seeds": [0], "images": 40}
    config["weights"] = {"analyses": [{"model": "mine", "layers": ["0"], "slice": "each"}],
                         "seeds": 2, "epochs": 1, "snapshots": [0], "density_k": [3],
                         "keep": [50], "dynamics": {"density_k": 3, "keep": 50},
                         "mapper": {"intervals": 3, "min_samples": 3}}
    snakemake(user_package, write_config(user_package, config))
    results = user_package / "results"
    purity = pd.read_csv(results / "purity/digits/mine/seed-0/purity.tsv", sep="\t",
                         dtype={"layer": str})
    assert set(purity["layer"]) == {"3", "8"}
    assert (results / "homology/digits/mine/seed-0/sw-distances.tsv").exists()
    assert (results / "featurevis/digits/mine/seed-0/random").is_dir()
    assert (results / "weights/mine/0/h1-bars.tsv").exists()
    assert (results / "profiles/digits/mine/seed-0/channel/within-across.tsv").exists()
    manifest = (results / "explorer/data/manifest.js").read_text()
    assert '"layer":"8"' in manifest and "profiles/index.html" in manifest
    sidecar = json.loads((results / "models/mine/seed-0.json").read_text())
    assert sidecar["spec"]["kwargs"] == {"width": 8}

    # A new kwargs value reruns that model's jobs: its training and all after it.
    wider = user_config({**MINE, "kwargs": {"width": 12}}, ["3", "8"])
    planned = planned_outputs(user_package, write_config(user_package, wider, "wide.yaml"),
                              "results/purity/digits/mine/seed-0/purity.tsv")
    assert planned["train_model"] == ["results/models/mine/seed-0.json",
                                      "results/models/mine/seed-0.pt"]


@pytest.mark.workflow
def test_a_vision_transformer_through_extraction_mapper_and_purity(user_package):
    layers = ["encoder.layers.encoder_layer_0", "encoder.layers.encoder_layer_1"]
    config = user_config(VIT, layers)
    config["activations"] = {**config["activations"], "skip_tokens": 1, "samplings": ["top-l2"]}
    config["mapper"] = {**config["mapper"], "samplings": ["top-l2"], "epsilons": ["adaptive"]}
    target = "results/purity/digits/mine/seed-0/purity.tsv"
    snakemake(user_package, write_config(user_package, config), target)
    purity = pd.read_csv(user_package / target, sep="\t")
    assert set(purity["layer"]) == set(layers)
    top = store.open_store(user_package / "results/activations/digits/mine/seed-0/top-l2/"
                           f"{layers[1]}.zarr", "activations")
    # 16 patch tokens are the positions, the CLS token left out; one point per image
    assert top.attrs["layer_shape"] == [17, 32] and top.attrs["skip_tokens"] == 1
    assert top["points"].shape == (1797, 32) and top["position"][:, 1].max() < 16


@pytest.mark.workflow
def test_a_user_model_with_given_weights_reruns_when_the_file_changes(user_package):
    model = models.architecture_of(MINE).build(10)
    torch.save(model.state_dict(), user_package / "mine.pt")
    config = user_config({**MINE, "weights": "mine.pt"}, ["3"])
    target = "results/models/mine/seed-0.pt"
    snakemake(user_package, write_config(user_package, config), target)
    loaded, metadata = models.load_model(user_package / target)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)
    assert metadata["spec"]["architecture"] == "mynets:build_net"
    assert planned_outputs(user_package, user_package / "config.yaml", target) == {}
    torch.manual_seed(1)
    torch.save(models.architecture_of(MINE).build(10).state_dict(), user_package / "mine.pt")
    assert "train_model" in planned_outputs(user_package, user_package / "config.yaml", target)


def test_a_timm_architecture_with_a_local_checkpoint(tmp_path, digits_store):
    import timm

    net = timm.create_model("resnet18", pretrained=False, num_classes=10)
    torch.save(net.state_dict(), tmp_path / "timm.pt")
    spec = {"architecture": "timm:resnet18", "kwargs": {"num_classes": 10}, "input_size": 32,
            "normalize": {"mean": [0.31] * 3, "std": [0.32] * 3}}
    model, metadata = pretrained_from_file(spec, str(tmp_path / "timm.pt"),
                                           tmp_path / "timm.pt")
    assert metadata["spec"]["architecture"] == "timm:resnet18" and len(metadata["classes"]) == 10
    for key, value in net.state_dict().items():
        torch.testing.assert_close(model.net.state_dict()[key], value)
    path = layers.layer_module(spec, "layer3.1.conv2")
    assert path == "net.layer3.1.conv2"
    x = torch.rand(2, 3, 32, 32)
    with activations.capture_layer(model, path) as captured:
        output = activations.run_to_layer(model, x, captured)
    hooked = {}
    net.eval().layer3[1].conv2.register_forward_hook(lambda m, i, o: hooked.update(o=o))
    with torch.no_grad():
        net((x - 0.31) / 0.32)
    torch.testing.assert_close(output, hooked["o"])


def test_a_torchscript_model_gives_the_same_activations(user_package, digits_store, tmp_path,
                                                        capsys):
    """The user model scripted and saved, loaded by torch.jit.load: its layers by module
    path (captured through its compiled forward, cut at the call) equal the original's."""
    original = models.architecture_of(MINE).build(10).eval()
    torch.jit.script(original).save(str(tmp_path / "mine.ts"))
    spec = {"architecture": "torchscript", "weights": str(tmp_path / "mine.ts"),
            "input_size": 32, "normalize": None}
    scripted = models.architecture_of(spec).build(10).eval()
    assert layers.layer_module(spec, "3") == "net.3"
    settings = activations.ExtractionSettings(sampling="full", split="test", batch_size=100)
    for model, path, out in ((original, "3", "a.zarr"), (scripted, "net.3", "b.zarr")):
        extract_activations(model, path, digits_store, tmp_path / out, settings,
                            torch.device("cpu"), progress=False)
    a, b = (store.read_activations(tmp_path / name) for name in ("a.zarr", "b.zarr"))
    np.testing.assert_allclose(b.points, a.points, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(b.position, a.position)
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(scripted(x), original(x))  # the tap is put back
    config = user_config({**spec, "weights": str(tmp_path / "mine.ts")}, ["3"])
    assert cli.main(["layers", "--model", "mine", "--config",
                     str(write_config(user_package, config))]) == 0
    assert "(16, 16, 16)" in capsys.readouterr().out


def test_feature_visualization_of_a_token_layer_aims_at_its_middle_token():
    tokens = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)
    torch.testing.assert_close(render.centre_activation(tokens), tokens[:, 2, :])
    torch.manual_seed(0)
    vit = models.architecture_of(VIT).build(10).eval()
    result = render.render_batch(
        vit, "net.encoder.layers.encoder_layer_1", torch.randn(3, 32),
        render.RenderSettings(steps=16, batch_size=3, image_size=32), seed=0)
    assert (result.cosine_end > result.cosine_start + 0.1).all()
