"""Foreground/background samplings: grabCut masks, measured receptive fields, scores and
the positions they pick, each against a known answer."""

import numpy as np
import pytest
import torch
from torch import nn

from conftest import planned_outputs, tiny_config, write_config
from topoact import activations, foreground, models, names, sampling, store
from topoact.steps.activations import extract_activations
from topoact.steps.foreground import load_fields, open_masks, save_fields, write_masks


def _square_image(size=32, box=(10, 22, 12, 24), seed=0):
    """A noisy green background with a red square: the known foreground."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), np.uint8) + np.array([30, 120, 40], np.uint8)
    image = (image + rng.integers(0, 30, image.shape)).astype(np.uint8)
    top, bottom, left, right = box
    image[top:bottom, left:right] = [220, 40, 40]
    truth = np.zeros((size, size), bool)
    truth[top:bottom, left:right] = True
    return image, truth


@pytest.mark.parametrize("box", [(10, 22, 12, 24), (5, 15, 6, 26)])
def test_grabcut_mask_covers_a_known_foreground_square(box):
    image, truth = _square_image(box=box)
    mask = foreground.grabcut_mask(image, margin=0.1, iterations=5)
    assert mask.shape == truth.shape and mask.dtype == bool
    assert mask[truth].mean() >= 0.95          # covers the square
    assert mask[~truth].mean() <= 0.05         # and little else


def test_grabcut_margin_that_leaves_no_rectangle_is_an_error():
    image, _ = _square_image(size=4)
    with pytest.raises(ValueError, match="margin 0.5"):
        foreground.grabcut_mask(image, margin=0.5)


def test_support_keeps_the_fewest_pixels_holding_the_mass():
    erf = np.array([[0.0, 1.0], [6.0, 3.0]])
    pixels, weights = foreground.support(erf, 0.9)
    assert pixels.tolist() == [2, 3] and np.allclose(weights, [0.6, 0.3])
    pixels, _ = foreground.support(erf, 1.0)
    assert pixels.tolist() == [1, 2, 3]
    assert len(foreground.support(np.zeros((2, 2)), 0.9)[0]) == 0


class _BoxConv(nn.Module):
    """conv 3×3 (padding 1, positive weights) then a stride-2 2×2 average: known ERFs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1, bias=False)
        nn.init.constant_(self.conv.weight, 0.1)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x):
        return self.pool(self.conv(x))


def test_receptive_fields_match_the_known_box_of_each_position():
    model = _BoxConv()
    images = np.random.default_rng(0).integers(0, 255, (2, 8, 8, 3), dtype=np.uint8)
    conv = foreground.receptive_fields(model, "conv", images, mass=1.0, chunk=5, progress=False)
    assert conv.layer_shape == (8, 8) and conv.image_shape == (8, 8)
    for row, col in [(0, 0), (3, 4), (7, 7)]:
        expected = np.zeros((8, 8))
        expected[max(row - 1, 0):row + 2, max(col - 1, 0):col + 2] = 1
        dense = conv.dense(row * 8 + col)
        np.testing.assert_array_equal(dense > 0, expected > 0)  # padding clips the box
        np.testing.assert_allclose(dense[dense > 0], 1 / expected.sum(), rtol=1e-5)
    pooled = foreground.receptive_fields(model, "pool", images, mass=1.0, progress=False)
    assert pooled.layer_shape == (4, 4)
    # Pooled position (1, 2) sees conv rows 2–3, cols 4–5, i.e. input rows 1–4, cols 3–6,
    # the middle 2×2 four times as strongly as the corners.
    dense = pooled.dense(1 * 4 + 2)
    assert set(zip(*np.nonzero(dense), strict=True)) == {(r, c) for r in range(1, 5)
                                                         for c in range(3, 7)}
    assert dense[2, 4] == pytest.approx(4 * dense[1, 3], rel=1e-5)
    # The model's weights keep requiring gradients (only the input's were taken).
    assert all(p.requires_grad for p in model.parameters())


def test_receptive_fields_round_trip_and_bad_file_is_named(tmp_path):
    fields = foreground.ReceptiveFields(np.array([0, 2, 3]), np.array([0, 5, 7]),
                                        np.array([0.5, 0.5, 1.0], np.float32), (1, 2), (3, 3))
    save_fields(fields, tmp_path / "erf.npz")
    loaded = load_fields(tmp_path / "erf.npz")
    np.testing.assert_array_equal(loaded.pixels, fields.pixels)
    assert loaded.layer_shape == (1, 2) and loaded.image_shape == (3, 3)
    (tmp_path / "bad.npz").write_text("not numpy")
    with pytest.raises(store.StoreError, match="bad.npz"):
        load_fields(tmp_path / "bad.npz")


def _hand_fields():
    """A 2×2 layer over a 4×4 image: each position's ERF is its own 2×2 quadrant, but
    position (0, 1) also leaks a little mass onto pixel (2, 0)."""
    pixels, weights, indptr = [], [], [0]
    for row in range(2):
        for col in range(2):
            quadrant = [(2 * row + r) * 4 + 2 * col + c for r in range(2) for c in range(2)]
            mass = [0.25] * 4
            if (row, col) == (0, 1):
                quadrant, mass = [*quadrant, 8], [0.2] * 4 + [0.2]
            pixels += quadrant
            weights += mass
            indptr.append(len(pixels))
    return foreground.ReceptiveFields(np.array(indptr), np.array(pixels),
                                      np.array(weights, np.float32), (2, 2), (4, 4))


def test_foreground_sampling_of_a_hand_made_tensor_picks_the_expected_positions():
    fields = _hand_fields()
    masks = np.zeros((2, 4, 4), bool)
    masks[0, 2:, 2:] = True            # image 0: foreground = bottom-right quadrant
    masks[0, 0, 0] = True              # plus one pixel of the top-left quadrant
    masks[1, :, :2] = True             # image 1: the left half
    acts = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)

    scorer = foreground.PositionScorer(fields, masks, background=False)
    scores = scorer.scores(0, 2)
    # counts (+ half the ERF mass): image 0 → [1, 0, 0, 4]; image 1 → [4, 1, 4, 0]
    np.testing.assert_allclose(scores.numpy(), [[1.125, 0, 0, 4.5], [4.5, 1.1, 4.5, 0]])
    batch, rows, cols = sampling.select_positions(acts, "foreground-top1", np.arange(2),
                                                  scores=scores)
    # image 1: (0,0) and (1,0) tie; the first in row-major order wins
    assert list(zip(batch.tolist(), rows.tolist(), cols.tolist(), strict=True)) == [
        (0, 1, 1), (1, 0, 0)]
    batch, rows, cols = sampling.select_positions(acts, "foreground-top3", np.arange(2),
                                                  scores=scores)
    # image 0: (1,1), (0,0), then the tie (0,1)/(1,0) at 0 goes to row-major first (0,1)
    assert (rows * 2 + cols).tolist() == [3, 0, 1, 0, 2, 1]
    points = sampling.gather_points(acts, batch, rows, cols)
    torch.testing.assert_close(points[0], acts[0, :, 1, 1])

    background = foreground.PositionScorer(fields, masks, background=True).scores(0, 2)
    _, rows, cols = sampling.select_positions(acts, "background-top1", np.arange(2),
                                              scores=background)
    # image 0: (0,1) sees 5 background pixels (its quadrant + the leaked one), (1,0) 4;
    # image 1: (1,1) sees 4 with mass 1, (0,1) 4 with mass 0.8
    assert (rows * 2 + cols).tolist() == [1, 3]


def test_masked_sampling_names_and_caps():
    assert sampling.masked_sampling("foreground-top5") == ("foreground", 5)
    assert sampling.masked_sampling("background-top1") == ("background", 1)
    assert sampling.masked_sampling("top-l2") is None
    assert sampling.points_per_image("foreground-top5", 1, 1) == 1   # linear layer
    assert sampling.points_per_image("background-top5", 4, 4) == 5
    for bad in ("foreground-top0", "foreground", "middle-top1"):
        with pytest.raises(ValueError, match="unknown sampling"):
            sampling.check_sampling(bad)
    with pytest.raises(ValueError, match="position scores"):
        sampling.select_positions(torch.zeros(1, 2, 2, 2), "foreground-top1", np.arange(1))


def test_masks_and_fields_of_different_image_sizes_are_refused():
    with pytest.raises(ValueError, match=r"\(3, 3\) pixels"):
        foreground.PositionScorer(_hand_fields(), np.zeros((1, 3, 3), bool), background=False)


def test_masks_store_and_foreground_extraction_end_to_end(trained_model, digits_store,
                                                         tmp_path):
    """A masks store of digits → ERFs of conv3 → foreground-top5 cloud: every image gets
    the 5 positions of highest score, computed here independently with dense ERFs."""
    masks_path = tmp_path / "masks.zarr"
    stats = write_masks(digits_store, masks_path, "grabcut", progress=False)
    images = store.open_store(digits_store, "images")["images"]
    assert open_masks(masks_path).shape == images.shape[:3]
    # grabCut finds nothing in most digits (their strokes reach its background band), and
    # says so; the strokes themselves are the foreground used for the rest of the test.
    assert stats["images"] == images.shape[0] and stats["empty"] > images.shape[0] // 2
    masks = images[:].mean(axis=3) > 128
    model, _ = models.load_model(trained_model)
    fields = foreground.receptive_fields(model, "conv3", images[:4], mass=0.95, progress=False)
    assert fields.layer_shape == (8, 8)

    out = tmp_path / "fg.zarr"
    settings = activations.ExtractionSettings(sampling="foreground-top5", split="test",
                                              batch_size=100, chunk_bytes=1 << 20)
    scorer = foreground.PositionScorer(fields, masks, background=False)
    extract_activations(model, "conv3", digits_store, out, settings,
                        torch.device("cpu"), progress=False, scorer=scorer)
    cloud = store.read_activations(out)
    assert cloud.points.shape == (360 * 5, 128) and cloud.attrs["points_per_image"] == 5

    dense = np.stack([fields.dense(q) for q in range(64)]).reshape(64, -1).astype(np.float64)
    support = (dense > 0).astype(np.float64)
    for image in (1437, 1500, 1796):
        mask = masks[image].ravel().astype(np.float64)
        assert mask.any()
        score = support @ mask + 0.5 * (dense @ mask)
        expected = np.argsort(-score, kind="stable")[:5]
        chosen = cloud.position[cloud.image == image]
        np.testing.assert_array_equal(chosen[:, 0] * 8 + chosen[:, 1], expected)

    with pytest.raises(ValueError, match="needs masks"):
        extract_activations(model, "conv3", digits_store, tmp_path / "x.zarr",
                            settings, torch.device("cpu"), progress=False)


def test_deeplab_masks_have_the_image_shape_and_load_saved_weights(tmp_path):
    torch.manual_seed(0)
    model = foreground.deeplab_model()
    path = tmp_path / "deeplab.pt"
    torch.save(model.state_dict(), path)
    loaded = foreground.deeplab_model(path)
    batch = np.random.default_rng(0).integers(0, 255, (2, 40, 48, 3), dtype=np.uint8)
    masks = foreground.deeplab_masks(loaded, batch, torch.device("cpu"))
    assert masks.shape == (2, 40, 48) and masks.dtype == bool
    np.testing.assert_array_equal(masks, foreground.deeplab_masks(model, batch, "cpu"))


@pytest.mark.workflow
def test_masked_samplings_plan_masks_fields_and_the_segmentation_download(tmp_path):
    config = tiny_config(samplings=["foreground-top1", "background-top5"], noise_sigmas=[0.1])
    config["datasets"]["digits"]["segmentation"] = "deeplabv3"
    config["mapper"]["samplings"] = ["background-top5"]
    config["homology"]["seeds"] = []
    config["featurevis"]["samplings"] = []
    jobs = planned_outputs(tmp_path, write_config(tmp_path, config))
    assert jobs["download_segmentation_weights"] == [names.DEEPLAB_WEIGHTS]
    assert jobs["foreground_masks"] == ["results/masks/digits-examples.png",
                                        "results/masks/digits.zarr"]   # the clean images only
    fields = "results/receptive_fields/digits/digits-cnn/seed-0/"
    assert jobs["receptive_fields"] == sorted(fields + f for f in (
        "conv3.npz", "conv3.png", "fc1.npz", "fc1.png"))
    # clean: both samplings × 2 layers; the noisy variant only what mapper uses
    assert len(jobs["extract_activations"]) == 2 * 2 + 2
    # (clean, σ) × layers × ε; 5 files each: store, node-link, KeplerMapper, purity, figure
    assert len(jobs["build_mapper"]) == 2 * 2 * 2 * 5
