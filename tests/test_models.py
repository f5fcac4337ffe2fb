"""The embedded model: layer names and shapes, real training, saving and loading."""

import json

import pytest
import torch

from topoact import layers, models, store
from topoact.devices import resolve_device
from topoact.steps.models import train_from_store


def test_small_cnn_layers_and_shapes():
    arch = models.get_architecture("small-cnn")
    shapes = models.layer_shapes(arch.build(10), arch.layers, arch.input_size)
    assert shapes == {"conv1": [32, 16, 16], "conv2": [64, 16, 16], "conv3": [128, 8, 8],
                      "conv4": [128, 4, 4], "fc1": [128], "logits": [10]}


def test_unknown_names_list_the_valid_choices():
    with pytest.raises(ValueError, match=r"unknown layer 'conv9'.*valid layers: \['conv1'"):
        layers.layer_module("small-cnn", "conv9")
    with pytest.raises(ValueError, match=r"unknown architecture 'vgg'.*small-cnn"):
        models.get_architecture("vgg")


def test_training_reaches_high_heldout_accuracy(trained_model):
    metadata = json.loads(models.sidecar_path(trained_model).read_text())
    # Three epochs of real training on the digits train split (the workflow uses 8).
    assert metadata["training"]["heldout_accuracy"] >= 0.95
    assert metadata["training"]["heldout_images"] == 360
    assert metadata["layers"]["conv3"] == {"module": "conv3", "shape": [128, 8, 8]}
    assert metadata["architecture"] == "small-cnn" and metadata["seed"] == 0


def test_saved_model_loads_with_weights_only_and_predicts_the_same(trained_model, digits_store,
                                                                 tmp_path):
    """The loaded model equals the model before saving: every tensor (parameters and batch
    norm's running statistics, each moved off what any file holds), and its logits."""
    trained, metadata = models.load_model(trained_model)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in trained.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.01 * torch.randn(tensor.shape, generator=generator))
    path = tmp_path / "seed-0.pt"
    models.save_model(trained, path, metadata)
    model, metadata = models.load_model(path)
    images = store.open_store(digits_store, "images")
    x = torch.from_numpy(images["images"][:16]).permute(0, 3, 1, 2).float() / 255
    saved, loaded = trained.state_dict(), model.state_dict()
    assert saved.keys() == loaded.keys()
    for name in saved:
        torch.testing.assert_close(loaded[name], saved[name], rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(model(x), trained(x))
        # A changed weight is seen: the comparison can fail.
        next(model.parameters()).add_(0.1)
        assert not torch.allclose(model(x), trained(x))
    assert metadata["num_classes"] == 10


def test_training_is_deterministic_given_the_seed(digits_store):
    def train():
        model, metadata = train_from_store(
            digits_store, "small-cnn", seed=5, epochs=1, batch_size=128, learning_rate=1e-3,
            weight_decay=0.0, device=torch.device("cpu"))
        return metadata["training"]["loss_by_epoch"], next(model.parameters()).detach().clone()

    (loss_a, w_a), (loss_b, w_b) = train(), train()
    assert loss_a == loss_b
    torch.testing.assert_close(w_a, w_b)


def test_missing_sidecar_is_reported(tmp_path):
    path = tmp_path / "seed-0.pt"
    torch.save({}, path)
    with pytest.raises(FileNotFoundError, match=r"seed-0\.json: model sidecar missing"):
        models.load_model(path)


def test_cuda_request_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        resolve_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")
