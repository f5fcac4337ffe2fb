"""DeepDataProfiler profiles: DDP 2.0.1 as the oracle, known answers, the metric, storage."""

import io
import re

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from ddp_oracle import as_dicts, assert_same, ddp_tables, import_ddp, recounted
from PIL import Image
from torch import nn

from conftest import (
    assert_drawn,
    imports_torch,
    planned_outputs,
    snakemake,
    tiny_config,
    write_config,
)
from topoact import cli, data, models, store
from topoact.models import SmallCNN
from topoact.profiles.build import profile_images, select_images
from topoact.profiles.synapses import influential_neurons
from topoact.profiles.tables import Profile, ProfileError, add_profiles, from_tables
from topoact.profiles.topology import (
    ImageGrid,
    graph_diagrams,
    graph_distances,
    jaccard,
    persistence_image,
    profile_graph,
    within_across,
)
from topoact.profiles.trace import layer_plan
from topoact.steps.profiling import profile_store

ddp = import_ddp()
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def random_inputs(n: int, seed: int, size: int = 224) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def torchvision_net(name: str) -> nn.Module:
    torch.manual_seed(0)
    return getattr(torchvision.models, name)(weights=None).eval()


@pytest.fixture(scope="module")
def vgg11_channel():
    """A random-weight VGG-11, two seeded inputs, DDP's channel profiles of them (its own
    objects) and its layer predecessors."""
    model, x = torchvision_net("vgg11"), random_inputs(2, seed=1)
    profiler = ddp.ChannelProfiler(model)
    return model, x, [profiler.create_profile(x[i:i + 1]) for i in range(2)], profiler.pred_dict


def ddp_profiles(model: nn.Module, x: torch.Tensor, neuron: str, threshold: float = 0.1):
    profiler = (ddp.ChannelProfiler if neuron == "channel" else ddp.ElementProfiler)(model)
    return [ddp_tables(profiler.create_profile(x[i:i + 1], threshold=threshold),
                       profiler.pred_dict) for i in range(len(x))]


# --------------------------------------------------------------------------- the oracle


@pytest.mark.parametrize("neuron", ["channel", "element"])
def test_vgg11_profiles_equal_ddp(neuron, vgg11_channel):
    model, x, channel, pred_dict = vgg11_channel
    ours, layers = profile_images(model, x, neuron=neuron)
    assert [layer.kind for layer in layers[:4]] == ["input", "conv", "maxpool", "conv"]
    assert [layer.kind for layer in layers[-4:]] == ["avgpool", "linear", "linear", "linear"]
    expected = [ddp_tables(p, pred_dict) for p in channel] if neuron == "channel" else \
        ddp_profiles(model, x, neuron)
    for mine, theirs in zip(ours, expected, strict=True):
        assert len(mine.synapses["source"]) > 100
        assert_same(mine, theirs)
        assert_same(recounted(theirs), theirs)  # the recount reproduces DDP's own counts


@pytest.mark.parametrize("neuron", ["channel", "element"])
def test_resnet18_profiles_equal_ddp_with_inplace_add(neuron):
    """With ``inplace_add`` (torchvision's ``out += identity`` run in place, as DDP reads
    it) the synapses and influential neurons equal DDP's. DDP 2.0.1 credits a residual
    add's contributor counts to its predecessors in graph order, not in the order its
    contribution function returns them, so in the blocks with a downsample branch the
    counts land on the other branch's layer; we credit the layer the synapse comes from,
    which is DDP's recount of its own synapses."""
    model, x = torchvision_net("resnet18"), random_inputs(2, seed=2)
    ours, layers = profile_images(model, x, neuron=neuron, inplace_add=True)
    downsample_branches = {p for layer in layers if layer.kind == "add"
                           and any("downsample" in layers[q].name for q in layer.preds)
                           for p in layer.preds}
    for mine, theirs in zip(ours, ddp_profiles(model, x, neuron), strict=True):
        assert_same(mine, recounted(theirs))
        mine_n, theirs_n = as_dicts(mine)[0], as_dicts(theirs)[0]
        differ = {layer for (layer, n) in mine_n.keys() ^ theirs_n.keys()}
        differ |= {key[0] for key in mine_n.keys() & theirs_n.keys()
                   if mine_n[key][0] != theirs_n[key][0]}
        assert differ and differ <= downsample_branches


def test_default_reads_each_layers_own_activations_not_the_block_output():
    """Without ``inplace_add`` a block's second convolution layer picks its influential
    channels from its own BatchNorm output (before the residual add), unlike DDP."""
    model, x = torchvision_net("resnet18"), random_inputs(2, seed=3)
    captured = {}
    model.layer1[0].conv2.register_forward_hook(lambda m, i, o: captured.update(conv=o))
    model.layer1[0].bn2.register_forward_hook(lambda m, i, o: captured.update(bn=o.clone()))
    own, layers = profile_images(model, x)
    index = next(layer.index for layer in layers if layer.name == "layer1.0.conv2")
    expected = influential_neurons(captured["conv"], captured["bn"], 0.1, "channel")
    dd = ddp_profiles(model, x, "channel")
    for mine, found in zip(own, expected, strict=True):
        influential = mine.neurons["weight"] > 0
        at = influential & (mine.neurons["layer"] == index)
        assert sorted(mine.neurons["neuron"][at]) == sorted(found.neurons.tolist())
    assert any(as_dicts(m)[1] != as_dicts(t)[1] for m, t in zip(own, dd, strict=True))


def test_ddp_cannot_read_the_embedded_model():
    with pytest.raises(Exception):  # noqa: B017 - DDP fails with several error types
        ddp.ChannelProfiler(SmallCNN().eval()).create_profile(torch.rand(1, 3, 32, 32))


def test_a_tiny_network_profile_by_hand():
    """conv 1→2 (1×1, weights 1 and 2) + ReLU, global average pool, flatten, linear
    (weights 1, 1) on x = [[1, 2], [3, 4]], threshold 0.7 (worked out in the comments)."""
    conv = nn.Conv2d(1, 2, 1, bias=False)
    linear = nn.Linear(2, 1)
    with torch.no_grad():
        conv.weight[:] = torch.tensor([1.0, 2.0]).view(2, 1, 1, 1)
        linear.weight[:] = 1.0
        linear.bias[:] = 0.0
    model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear)
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    (profile,), layers = profile_images(model, x, threshold=0.7)
    assert [layer.kind for layer in layers] == ["input", "conv", "avgpool", "linear"]
    neurons, synapses = as_dicts(profile)
    # conv maxima 4, 8: shares 8/12 ≤ 0.7 kept, plus one more -> weights 2/3, 1/3; each
    # channel also sources one synapse into the pool (count 2). Pool means 2.5, 5: the
    # same. Linear: one output (weight 1); its products 5, 2.5 against the goal
    # 0.7 × 7.5: the first accepted, plus one more, normalised by 7.5.
    expected_neurons = {(0, 0): (2, 0.0), (1, 0): (2, 1 / 3), (1, 1): (2, 2 / 3),
                        (2, 0): (2, 1 / 3), (2, 1): (2, 2 / 3), (3, 0): (1, 1.0)}
    expected_synapses = {(0, 0, 1, 0): (1, 1.0), (0, 0, 1, 1): (1, 1.0), (1, 0, 2, 0): (1, 1.0),
                         (1, 1, 2, 1): (1, 1.0), (2, 1, 3, 0): (1, 2 / 3),
                         (2, 0, 3, 0): (1, 1 / 3)}
    for found, expected in ((neurons, expected_neurons), (synapses, expected_synapses)):
        assert found.keys() == expected.keys()
        for key, (count, weight) in expected.items():
            assert found[key][0] == count and found[key][1] == pytest.approx(weight)


class InceptionBlock(nn.Module):
    """Three branches joined along the channels, as GoogLeNet's blocks join four:
    a = 0.5·x (1×1 conv), b = (2x, −x) (1×1 conv), c = 3×3 average pool (stride 1,
    padding 1)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(1, 1, 1, bias=False), nn.Conv2d(1, 2, 1, bias=False)
        self.pool = nn.AvgPool2d(3, 1, 1)
        with torch.no_grad():
            self.a.weight[:] = 0.5
            self.b.weight[:] = torch.tensor([2.0, -1.0]).view(2, 1, 1, 1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x), self.pool(x)], dim=1)


NINE = torch.arange(1.0, 10.0).view(1, 1, 3, 3)  # x = 1 … 9, row by row


def test_a_concatenation_passes_each_neuron_to_its_branch_by_hand():
    """The block on x = 1 … 9, threshold 0.9. The joined channels are 0.5x, 2x, −x and
    the pool (means over 3×3 windows with zero padding: 5 at the centre, the largest).
    Channel maxima 4.5, 18, −1 → 0, 5; shares of 27.5 in descending order: 18 (0.65), 5
    (0.84) kept, plus one more (4.5): channels 1, 3, 0 with weights 18, 5, 4.5 / 27.5.
    Each comes from the same channel of its branch (offsets 0, 1, 3), weight 1."""
    (profile,), layers = profile_images(InceptionBlock(), NINE, threshold=0.9)
    assert [(layer.kind, layer.preds) for layer in layers] == [
        ("input", ()), ("conv", (0,)), ("conv", (0,)), ("avgpool", (0,)), ("concat", (1, 2, 3))]
    neurons, synapses = as_dicts(profile)
    joined = {key: value for key, value in neurons.items() if key[0] == 4}
    assert joined.keys() == {(4, 0), (4, 1), (4, 3)}
    for channel, weight in ((1, 18 / 27.5), (3, 5 / 27.5), (0, 4.5 / 27.5)):
        assert joined[4, channel] == (1, pytest.approx(weight))
    into = {key: value for key, value in synapses.items() if key[2] == 4}
    assert into == {(2, 0, 4, 1): (1, 1.0), (3, 0, 4, 3): (1, 1.0), (1, 0, 4, 0): (1, 1.0)}


def test_a_concatenation_of_elements_and_the_average_pool_by_hand():
    """Elements: each chosen channel's maximum — 2x and 0.5x at (2, 2), the pool at
    (1, 1) — from the same element of its branch: flat 1·9 + 8 = 17 ← b's 8, 3·9 + 4 = 31
    ← the pool's 4, 8 ← a's 8. The pool's element (1, 1) sees all of x over 9 (its 3×3
    window): 9, 8, … / 9 in descending order; shares of 45 pass 0.9 after 9 + … + 4 = 39
    (0.87), plus one more (3): sources 8 … 2, weights 9 … 3 / 42."""
    (profile,), _ = profile_images(InceptionBlock(), NINE, threshold=0.9, neuron="element")
    neurons, synapses = as_dicts(profile)
    assert {key: value for key, value in synapses.items() if key[2] == 4} == {
        (2, 8, 4, 17): (1, 1.0), (3, 4, 4, 31): (1, 1.0), (1, 8, 4, 8): (1, 1.0)}
    pooled = {key: value[1] for key, value in synapses.items() if key[2] == 3}
    assert pooled == {(0, v - 1, 3, 4): pytest.approx(v / 42) for v in range(3, 10)}


def test_a_ceil_mode_pool_and_a_rectangular_kernel_by_hand():
    """A 2×2 max pool with ceil_mode on 3×3 (its last window holds one element) and a
    1×3 convolution (weights 1, padding (0, 1)), elements, on x = 1 … 9."""
    (profile,), _ = profile_images(nn.Sequential(nn.MaxPool2d(2, 2, ceil_mode=True)),
                                   NINE, threshold=0.5, neuron="element")
    # pool output [[5, 6], [8, 9]]: its maximum 9 at (1, 1) from x's 9 (flat 8), weighted
    # by the maximum itself (DDP's element max pool)
    assert as_dicts(profile)[1] == {(0, 8, 1, 3): (1, 9.0)}
    conv = nn.Conv2d(1, 1, (1, 3), padding=(0, 1), bias=False)
    with torch.no_grad():
        conv.weight[:] = 1.0
    (profile,), _ = profile_images(nn.Sequential(conv), NINE, threshold=0.5, neuron="element")
    # output row 2 is 15, 24, 17: the maximum 24 at (2, 1) = 7 + 8 + 9; shares of 24 in
    # descending order 9 (0.375) kept, plus one more (8), normalised by 17
    synapses = as_dicts(profile)[1]
    assert synapses.keys() == {(0, 8, 1, 7), (0, 7, 1, 7)}
    assert synapses[0, 8, 1, 7][1] == pytest.approx(9 / 17)
    assert synapses[0, 7, 1, 7][1] == pytest.approx(8 / 17)


@pytest.mark.parametrize("arch, size", [("googlenet", 224), ("inception_v3", 299)])
def test_googlenet_and_inception_v3_profile_through_their_concatenations(arch, size):
    """Random weights; their input transform (transform_input) joins the input layer, the
    model keeps its own method afterwards, and every mixed block is a concatenation."""
    torch.manual_seed(0)
    model = models.get_architecture(arch).build(10).eval()
    x = torch.rand(1, 3, size, size)
    before = model(x)
    for neuron in ("channel", "element"):
        (profile,), layers = profile_images(model, x, neuron=neuron)
        joins = [layer for layer in layers if layer.kind == "concat"]
        assert len(joins) == {"googlenet": 9, "inception_v3": 15}[arch]
        assert all(len(layer.preds) >= 2 for layer in joins)
        assert set(profile.synapses["target_layer"]) >= {layer.index for layer in joins}
    assert not any(name.endswith("transform_input_") for name, _ in model.named_modules())
    assert "_transform_input" not in model.net.__dict__  # its own method again
    torch.testing.assert_close(model(x), before)


def test_a_dropout_after_a_flatten_keeps_the_pools_channels():
    """AlexNet's head: average pool, flatten, Dropout (folded into the pool's layer),
    Linear. The pool's neurons are its 4 channels and the linear layer's sources are
    channels too, as without the Dropout (a transposed copy of the input makes the pool's
    output and the flattened tail different tensors, as in a real batch)."""
    def head(dropout: bool) -> nn.Sequential:
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                             *([nn.Dropout()] if dropout else []), nn.Linear(16, 3)).eval()
    x = torch.rand(2, 3, 8, 8).transpose(2, 3)
    with_dropout, layers = profile_images(head(True), x)
    without, _ = profile_images(head(False), x)
    assert [layer.kind for layer in layers] == ["input", "conv", "avgpool", "linear"]
    for mine, plain in zip(with_dropout, without, strict=True):
        np.testing.assert_equal(as_dicts(mine), as_dicts(plain))  # NaN == NaN here
        pool = mine.neurons["neuron"][mine.neurons["layer"] == 2]
        assert len(pool) and pool.max() < 4


def test_the_embedded_model_profiles_in_batches_as_one_by_one():
    torch.manual_seed(0)
    model, x = SmallCNN().eval(), torch.rand(5, 3, 32, 32, generator=torch.Generator()
                                             .manual_seed(4))
    batched, layers = profile_images(model, x, batch_size=5)
    single, _ = profile_images(model, x, batch_size=1)
    assert layers[0].tail == "normalize"  # the model's own normalization is the input
    assert [layer.kind for layer in layers[1:]] == [
        "conv", "conv", "maxpool", "conv", "maxpool", "conv", "avgpool", "linear", "linear"]
    for a, b in zip(batched, single, strict=True):
        assert_same(a, b, atol=1e-6)


def test_class_profiles_add_as_ddp_adds_them(vgg11_channel):
    model, x, (a, b), pred_dict = vgg11_channel
    ours, _ = profile_images(model, x)
    summed = add_profiles([ours[0], ours[1], ours[0]])
    assert summed.images == 3 and summed.synapses["count"].max() == 3
    assert_same(summed, ddp_tables(a + b + a, pred_dict))


def test_jaccard_equals_ddps(vgg11_channel):
    from deep_data_profiler.algorithms import jaccard as ddp_jaccard

    model, x, (a, b), _ = vgg11_channel
    ours, _ = profile_images(model, x)
    for kind, neuron in (("neurons", True), ("synapses", False)):
        expected = ddp_jaccard(a, b, neuron=neuron)
        assert 0 < expected < 1
        assert jaccard(ours[0], ours[1], kind) == pytest.approx(expected)
    assert jaccard(ours[0], ours[0], "synapses") == 1.0


# --------------------------------------------------------------------------- known answers


def ring(n: int, weight: float = 1.0) -> Profile:
    """A profile whose graph is an n-cycle: layer i's neuron 0 to layer i+1's, and the
    last back to the first (as a second synapse into layer 0's successor chain)."""
    source = [(i, 0) for i in range(n - 1)] + [(0, 0)]
    target = [(i + 1, 0) for i in range(n - 1)] + [(n - 1, 0)]
    synapses = {"source_layer": np.array([s[0] for s in source]),
                "source": np.array([s[1] for s in source]),
                "target_layer": np.array([t[0] for t in target]),
                "target": np.array([t[1] for t in target]),
                "count": np.ones(n, int), "weight": np.full(n, weight)}
    neurons = {"layer": np.arange(n), "neuron": np.zeros(n, int), "count": np.ones(n, int),
               "weight": np.zeros(n)}
    return Profile(neurons, synapses)


def test_a_four_cycle_of_unit_edges_has_one_h1_bar_from_1_to_2():
    _, adjacency = profile_graph(ring(4), "inverted")
    distances = graph_distances(adjacency, kernel=False)
    assert distances.max() == 2 and np.allclose(distances, distances.T)
    h0, h1 = graph_diagrams(distances)
    np.testing.assert_allclose(h1, [[1.0, 2.0]])
    assert np.isinf(h0[:, 1]).sum() == 1


def test_inverted_weighting_and_the_kernel():
    _, adjacency = profile_graph(ring(4, weight=0.25), "inverted")
    assert adjacency.max() == pytest.approx(4.0)  # 1 / 0.25
    _, original = profile_graph(ring(4, weight=0.25), "original")
    raw = graph_distances(original, kernel=False)
    np.testing.assert_allclose(sorted(set(raw.ravel())), [0, 0.25, 0.5])
    sigma = np.std(raw)
    kernelled = graph_distances(original, kernel=True)
    np.testing.assert_allclose(kernelled, 1 - np.exp(-raw / (2 * sigma)))


def test_disconnected_pairs_sit_at_the_cap():
    two = add_profiles([ring(4)])
    shifted = ring(4)
    for side in ("source_layer", "target_layer"):
        shifted.synapses[side] = shifted.synapses[side] + 10
    both = add_profiles([two, shifted])
    _, adjacency = profile_graph(both)
    for factor in (2.0, 3.0):
        distances = graph_distances(adjacency, kernel=False, cap_factor=factor)
        assert len(distances) == 8 and np.isfinite(distances).all()
        assert distances[0, 7] == factor * 2.0  # 2 = the largest finite distance
        h0, h1 = graph_diagrams(distances)
        assert sorted(h0[:, 1])[-2] == factor * 2.0  # the components join at the cap
        assert len(h1) == 2
    isolated = graph_distances(np.zeros((2, 2)), kernel=True)
    np.testing.assert_array_equal(isolated, [[0, 1], [1, 0]])  # nothing finite: cap 1


def test_the_persistence_image_grid_is_the_runs_for_every_image():
    grid = ImageGrid(birth_range=(0.0, 1.0), pers_range=(0.0, 1.0), pixel_size=0.1,
                     spread=0.05)
    small = persistence_image(np.array([[0.1, 0.2]]), grid)[0]
    large = persistence_image(np.array([[0.55, 1.0], [0.2, np.inf]]), grid)[0]
    empty = persistence_image(np.zeros((0, 2)), grid)[0]
    assert small.shape == large.shape == empty.shape == (10, 10) == grid.shape
    assert small.argmax() != large.argmax() and empty.sum() == 0
    # a bar's mass sits at its (birth, persistence) pixel, weighted by its persistence
    assert np.unravel_index(large.argmax(), large.shape) == (5, 4)
    assert large.sum() > small.sum()
    _, outside = persistence_image(np.array([[2.0, 3.5]]), grid)
    assert outside == 1


def test_within_and_across_class_similarity_with_a_permutation_test():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    matrix = np.full((8, 8), 0.1)
    matrix[np.ix_(labels == 0, labels == 0)] = 0.8
    matrix[np.ix_(labels == 1, labels == 1)] = 0.6
    np.fill_diagonal(matrix, 1)
    table, p = within_across(matrix, labels, ["a", "b"], permutations=500)
    rows = table.set_index("class")
    assert rows.loc["a", "within"] == pytest.approx(0.8)
    assert rows.loc["b", "across"] == pytest.approx(0.1)
    assert rows.loc["all", "within_pairs"] == 12 and rows.loc["all", "across_pairs"] == 16
    assert rows.loc["all", "difference"] == pytest.approx(0.7 - 0.1)
    assert p < 0.06  # 2 of the C(8, 4) = 70 labelings reach it: p ≈ 0.03
    _, p_flat = within_across(np.ones((8, 8)), labels, ["a", "b"], permutations=50)
    assert p_flat == 1.0


def test_a_class_with_fewer_images_uses_what_it_has_and_says_so():
    """One line for each short class only, naming it with what it has and what was asked
    (whatever the sentence); classes with enough images say nothing."""
    log = io.StringIO()
    chosen = select_images(np.array([0, 1, 0, 1, 0, 2, 3]), 2, 4, log)
    assert chosen.tolist() == [0, 1, 2, 3, 5, 6]
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    for line, short in zip(lines, (2, 3), strict=True):
        assert re.search(rf"\bclass {short}\b", line)
        assert {"1", "2"} <= set(re.findall(r"\d+", line))  # has 1, asked 2
    quiet = io.StringIO()
    assert select_images(np.array([0, 1, 0, 1]), 2, 2, quiet).tolist() == [0, 1, 2, 3]
    assert quiet.getvalue() == ""


# --------------------------------------------------------------------------- bad input


def test_unsupported_modules_and_operations_are_named_with_their_path():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ReLU(), nn.Upsample(2)))
    with pytest.raises(ProfileError, match=r"Upsample at '1\.1'"):
        layer_plan(model)
    with pytest.raises(ProfileError, match=r"AvgPool2d at '0'.*count_include_pad=True"):
        layer_plan(nn.Sequential(nn.AvgPool2d(2, count_include_pad=False)))

    class Concat(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 2, 1), nn.Conv2d(3, 2, 1)

        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], dim=2)

    with pytest.raises(ProfileError, match=r"concatenation .* channel axis \(dim=1\)"):
        layer_plan(Concat())
    with pytest.raises(ProfileError, match="groups=1"):
        layer_plan(nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)))


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5])
def test_a_threshold_outside_0_1_is_refused(threshold):
    with pytest.raises(ProfileError, match=r"outside \(0, 1\]"):
        profile_images(SmallCNN().eval(), torch.rand(1, 3, 32, 32),
                                threshold=threshold)


def test_an_unknown_neuron_kind_is_refused():
    with pytest.raises(ProfileError, match="unknown neuron kind 'spatial'"):
        profile_images(SmallCNN().eval(), torch.rand(1, 3, 32, 32), neuron="spatial")


# --------------------------------------------------------------------------- store and workflow


def test_profiles_round_trip_through_the_zarr_store(tmp_path, trained_model, digits_store):
    path = tmp_path / "profiles.zarr"
    profile_store(trained_model, digits_store, path, per_class=2, neuron="element")
    tables, attrs = store.read_profiles(path)
    assert attrs["neuron"] == "element" and attrs["threshold"] == 0.1
    assert [r["kind"] for r in attrs["layers"]][:2] == ["input", "conv"]
    assert attrs["layers"][1]["shape"] == [32, 16, 16]
    assert len(tables["image"]) == 20 and sorted(set(tables["label"])) == list(range(10))
    again = from_tables(tables)
    model, _ = models.load_model(trained_model)
    group = store.open_store(digits_store, "images")
    x = torch.from_numpy(group["images"][tables["image"][:3]]).permute(0, 3, 1, 2) / 255
    fresh, _ = profile_images(model, x.float(), neuron="element")
    for a, b in zip(again[:3], fresh, strict=True):
        assert_same(a, b, atol=1e-6)


@pytest.mark.parametrize("module, loads_torch", [
    ("topoact.profiles.topology", False), ("topoact.profiles.build", True)])
def test_the_topology_and_similarity_steps_do_not_import_torch(tmp_path, module, loads_torch):
    """Their jobs read stored profiles only: `topology` (and `tables` under it) imports
    without torch; `build` needs it."""
    assert imports_torch(module, tmp_path) == loads_torch


PROFILE_DIR = "results/profiles/digits/digits-cnn/seed-0/channel"


def profiles_config(threshold: float) -> dict:
    config = tiny_config()
    config["profiles"] = {"neurons": ["channel"], "images_per_class": 3,
                          "threshold": threshold, "permutations": 100}
    return config


@pytest.mark.workflow
def test_workflow_profiles_and_reruns_only_profiles_on_a_new_threshold(tmp_path):
    targets = [f"{PROFILE_DIR}/{name}" for name in
               ("persistence-images.png", "within-across.tsv", "class-jaccard.png")]
    snakemake(tmp_path, write_config(tmp_path, profiles_config(0.1)), *targets)
    table = pd.read_csv(tmp_path / PROFILE_DIR / "within-across.tsv", sep="\t")
    assert set(table["kind"]) == {"neurons", "synapses"}
    assert (table.query("`class` == 'all'")["within_pairs"] == 10 * 3).all()
    topology = np.load(tmp_path / PROFILE_DIR / "topology.npz")
    assert topology["images"].shape == (30, 20, 20)
    assert (topology["sizes"].sum(axis=1) > 0).all()
    for name in ("sizes.png", "within-across.png", "class-jaccard.png"):
        assert_drawn(tmp_path / PROFILE_DIR / name)

    planned = planned_outputs(tmp_path, write_config(tmp_path, profiles_config(0.2), "t.yaml"),
                              *targets)
    assert set(planned) == {"profile_images", "profile_topology", "profile_similarity"}


def test_cli_profiles_one_image(tmp_path, trained_model, capsys):
    pixels = (np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "digit.png")
    code = cli.main(["profile", "--arch", "small-cnn", "--weights", str(trained_model),
                     "--image", str(tmp_path / "digit.png"), "--threshold", "0.2",
                     "--json", str(tmp_path / "profile.json")])
    assert code == 0 and "neurons" in capsys.readouterr().out
    record = __import__("json").loads((tmp_path / "profile.json").read_text())
    assert record["threshold"] == 0.2 and record["layers"][1]["shape"] == [32, 16, 16]
    model, _ = models.load_model(trained_model)
    x = data.resize_crop(tmp_path / "digit.png", round(32 * 256 / 224), 32)
    x = torch.from_numpy(x.copy()).permute(2, 0, 1).unsqueeze(0).float() / 255
    (expected,), _ = profile_images(model, x, threshold=0.2)
    assert len(record["synapses"]) == len(expected.synapses["source"])
    assert sorted(map(tuple, (n[:3] for n in record["neurons"]))) == sorted(zip(
        expected.neurons["layer"].tolist(), expected.neurons["neuron"].tolist(),
        expected.neurons["count"].tolist(), strict=False))
    assert sum(r["profile_neurons"] for r in record["layers"]) == len(record["neurons"])

    assert cli.main(["profile", "--arch", "no-such-net", "--image",
                     str(tmp_path / "digit.png")]) == 2
    assert "unknown architecture 'no-such-net'" in capsys.readouterr().err


def test_a_torchscript_model_is_refused_by_name():
    scripted = torch.jit.script(nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU()))
    with pytest.raises(ProfileError, match="'net' is a TorchScript module"):
        layer_plan(_Wrapped(scripted))


class _Wrapped(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)
