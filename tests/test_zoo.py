"""torchvision architectures: readable layer names, documented shapes, given weights."""

import numpy as np
import pytest
import torch
from torchvision.models import alexnet

from conftest import planned_outputs, tiny_config, write_config
from topoact import activations, layers, models
from topoact.steps.models import pretrained_from_file

EXPECTED = {  # architecture → {layer: activation shape (C, H, W) or (C,)}
    "googlenet": {"mixed3a": [256, 28, 28], "mixed3b": [480, 28, 28], "mixed4a": [512, 14, 14],
                  "mixed4e": [832, 14, 14], "mixed5a": [832, 7, 7], "mixed5b": [1024, 7, 7]},
    "resnet18": {"conv1": [64, 112, 112], "conv2": [64, 56, 56], "conv6": [128, 28, 28],
                 "conv10": [256, 14, 14], "conv14": [512, 7, 7], "conv17": [512, 7, 7]},
    "resnet18-cifar10": {"conv1": [64, 32, 32], "conv17": [512, 4, 4], "fc": [10]},
    "inception_v3": {"Mixed_5b": [256, 35, 35], "Mixed_6e": [768, 17, 17],
                     "Mixed_7c": [2048, 8, 8]},
    "alexnet": {"conv1": [64, 55, 55], "conv5": [256, 13, 13], "fc6": [4096], "fc8": [10]},
}


@pytest.mark.parametrize("architecture", sorted(EXPECTED))
def test_layer_names_and_shapes_with_random_weights(architecture):
    arch = models.get_architecture(architecture)
    torch.manual_seed(0)
    model = arch.build(10).eval()
    shapes = models.layer_shapes(model, arch.layers, arch.input_size)
    for layer, shape in EXPECTED[architecture].items():
        assert shapes[layer] == shape, (layer, shapes[layer])


def test_resnet18_has_17_conv_layers_in_order():
    conv_layers = layers.resnet18_conv_layers()
    assert list(conv_layers) == [f"conv{k}" for k in range(1, 18)]
    assert conv_layers["conv2"] == "net.layer1.0.conv1"
    assert conv_layers["conv17"] == "net.layer4.1.conv2"
    model = models.get_architecture("resnet18").build(10)
    convs = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)
             and "downsample" not in name]
    assert convs == list(conv_layers.values())  # every non-shortcut convolution, in depth order


def test_extraction_through_a_torchvision_network_stops_at_the_layer():
    model = models.get_architecture("googlenet").build(10).eval()
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad(), activations.capture_layer(model, "net.inception3a") as captured:
        out = activations.run_to_layer(model, x, captured)
    assert out.shape == (2, 256, 28, 28)


def test_checkpoint_of_the_torchvision_network_loads(tmp_path):
    torch.manual_seed(1)
    net = alexnet(weights=None, num_classes=7)
    path = tmp_path / "alexnet.pt"
    torch.save(net.state_dict(), path)
    model, metadata = pretrained_from_file("alexnet", str(path), path)
    assert metadata["num_classes"] == 7 and metadata["layers"]["fc8"]["shape"] == [7]
    x = torch.rand(1, 3, 224, 224)
    normalised = (x - torch.tensor(models.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        models.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        np.testing.assert_allclose(model(x).numpy(), net.eval()(normalised).numpy(), atol=1e-5)
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt: not a alexnet checkpoint"):
        models.load_checkpoint("alexnet", tmp_path / "bad.pt", 7)


@pytest.mark.workflow
def test_imagenet_weights_are_a_local_download_job(tmp_path):
    config = tiny_config()
    config["models"]["inception"] = {"architecture": "googlenet", "weights": "imagenet"}
    config["analyses"].append({"dataset": "digits", "model": "inception", "seeds": [0],
                               "layers": ["mixed3a", "mixed5b"]})
    config["mapper"]["samplings"] = []
    config["homology"]["seeds"] = []
    configfile = write_config(tmp_path, config)
    planned = planned_outputs(tmp_path, configfile, "results/models/inception/seed-0.pt")
    assert planned == {
        "download_weights": ["resources/weights/googlenet-imagenet.json",
                             "resources/weights/googlenet-imagenet.pt"],
        "train_model": ["results/models/inception/seed-0.json",
                        "results/models/inception/seed-0.pt"]}
