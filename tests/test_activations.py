"""Activation extraction against an oracle: a plain forward pass with the full map kept."""

import numpy as np
import pytest
import torch

from topoact import activations, models, store
from topoact.steps.activations import extract_activations


@pytest.fixture(scope="module")
def oracle(trained_model, digits_store):
    """Full activation maps of conv3 and fc1 for the held-out images (no early stop)."""
    model, _ = models.load_model(trained_model)
    images = store.open_store(digits_store, "images")["images"][1437:]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    maps = {}
    hooks = [getattr(model, name).register_forward_hook(
        lambda _m, _i, out, name=name: maps.__setitem__(name, out.clone()))
        for name in ("conv3", "fc1")]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return model, maps


def _extract(model, digits_store, tmp_path, layer, sampling, batch_size=50):
    out = tmp_path / f"{layer}-{sampling}.zarr"
    settings = activations.ExtractionSettings(sampling=sampling, seed=0, split="test",
                                              batch_size=batch_size, chunk_bytes=1 << 20)
    extract_activations(model, layer, digits_store, out, settings,
                        torch.device("cpu"), {"layer": layer}, progress=False)
    return store.read_activations(out)


def test_full_sampling_equals_the_whole_activation_map(oracle, digits_store, tmp_path):
    model, maps = oracle
    cloud = _extract(model, digits_store, tmp_path, "conv3", "full")
    expected = maps["conv3"].permute(0, 2, 3, 1).reshape(-1, 128).numpy()
    assert cloud.points.shape == (360 * 64, 128)
    np.testing.assert_allclose(cloud.points, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cloud.image, np.repeat(np.arange(1437, 1797), 64))
    np.testing.assert_array_equal(cloud.position[:8], [[0, c] for c in range(8)])
    assert cloud.attrs["layer_shape"] == [128, 8, 8] and cloud.attrs["points_per_image"] == 64


def test_top_l2_sampling_takes_each_images_largest_vector(oracle, digits_store, tmp_path):
    model, maps = oracle
    cloud = _extract(model, digits_store, tmp_path, "conv3", "top-l2", batch_size=64)
    norms = maps["conv3"].pow(2).sum(1).reshape(360, -1)
    best = norms.argmax(1).numpy()
    np.testing.assert_array_equal(cloud.position[:, 0] * 8 + cloud.position[:, 1], best)
    labels = store.open_store(digits_store, "images")["labels"][1437:]
    np.testing.assert_array_equal(cloud.label, labels)
    vectors = maps["conv3"][torch.arange(360), :, cloud.position[:, 0], cloud.position[:, 1]]
    np.testing.assert_allclose(cloud.points, vectors.numpy(), rtol=1e-5, atol=1e-6)


def test_random_sampling_is_interior_and_independent_of_batch_size(oracle, digits_store,
                                                                  tmp_path):
    model, maps = oracle
    a = _extract(model, digits_store, tmp_path / "a", "conv3", "random", batch_size=7)
    b = _extract(model, digits_store, tmp_path / "b", "conv3", "random", batch_size=360)
    np.testing.assert_array_equal(a.position, b.position)
    np.testing.assert_allclose(a.points, b.points, rtol=1e-5, atol=1e-6)
    assert a.position.min() >= 1 and a.position.max() <= 6 and a.attrs["border"] == 1


def test_linear_layer_has_one_point_per_image(oracle, digits_store, tmp_path):
    model, maps = oracle
    cloud = _extract(model, digits_store, tmp_path, "fc1", "random")
    np.testing.assert_allclose(cloud.points, maps["fc1"].numpy(), rtol=1e-5, atol=1e-6)
    assert (cloud.position == 0).all() and cloud.attrs["layer_shape"] == [128]


def test_early_stop_returns_the_same_output_as_a_full_pass(oracle):
    model, maps = oracle
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad(), activations.capture_layer(model, "conv3", stop=True) as captured:
        stopped = activations.run_to_layer(model, x, captured)
    with torch.no_grad(), activations.capture_layer(model, "conv3", stop=False) as captured:
        full = activations.run_to_layer(model, x, captured)
    torch.testing.assert_close(stopped, full)


def test_unknown_module_and_bad_store_are_reported(oracle, tmp_path):
    model, _ = oracle
    with pytest.raises(ValueError, match="no module 'conv9'"):
        with activations.capture_layer(model, "conv9"):
            pass
    settings = activations.ExtractionSettings(sampling="full")
    with pytest.raises(store.StoreError, match="no such store"):
        extract_activations(model, "conv3", tmp_path / "none.zarr",
                            tmp_path / "out.zarr", settings, torch.device("cpu"))
    assert not (tmp_path / "out.zarr").exists()


def test_input_noise_is_per_image_clipped_and_of_the_given_sigma():
    x = torch.full((6, 3, 16, 16), 0.5)
    whole = activations.add_noise(x.clone(), 0.1, seed=3, first=10)
    halves = torch.cat([activations.add_noise(x[:2].clone(), 0.1, seed=3, first=10),
                        activations.add_noise(x[2:].clone(), 0.1, seed=3, first=12)])
    torch.testing.assert_close(whole, halves)  # independent of the batching
    assert abs(float((whole - 0.5).std()) - 0.1) < 0.01
    assert not torch.equal(whole[0], whole[1])
    strong = activations.add_noise(x.clone(), 1.0, seed=3, first=10)
    assert strong.min() == 0 and strong.max() == 1  # clipped to [0, 1]
    assert torch.equal(activations.add_noise(x.clone(), 0.0, 3, 0), x)
