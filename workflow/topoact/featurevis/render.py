"""Activation images of target vectors (TopoAct §4), batched, on lucent.

For a target vector v at a layer, an image is optimised from noise to maximise

    (h · v)^(n+1) / (‖h‖ ‖v‖)^n  =  (h · v) · cos(h, v)^n,

h the layer's activation at the centre position. The image is lucent's decorrelated
Fourier parametrization, seen through lucent's transformation-robustness transforms
(pad, jitter, scale, rotate; scaled to the image size), and fed to the model in
[0, 1] (the model normalises its own input). Many targets optimise together, one image
per target in one batch, and the forward pass stops at the target layer.

The power n weighs direction against magnitude: n = 0 is the plain projection, which
an image can raise by growing ‖h‖ in any direction near v; larger n asks for the
direction first. Lucid's activation atlas rendered with a cosine power; n = 2
(:class:`RenderSettings`' default; the workflow's config uses 4) reaches a higher
cosine than n = 0 or 1 at the same step count while the image still grows a strong
activation (measured in ``tests/test_featurevis.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from topoact.activations import capture_layer, run_to_layer

# Cosine floor of lucid's direction_neuron_cossim: keeps the gradient alive (and the
# objective monotone) while h still points away from v.
COSINE_FLOOR = 0.1


@dataclass(frozen=True)
class RenderSettings:
    """How images are optimised.

    Attributes
    ----------
    steps
        Optimisation steps per image (lucent's default threshold is 512).
    batch_size
        Targets optimised together.
    image_size
        Side of the rendered image in pixels.
    power
        The cosine power n of the objective.
    learning_rate
        Adam's step size (lucent's default 0.05).
    transforms
        Apply the transformation-robustness transforms.
    seed
        Seeds the noise of every batch (with its first target's index) and the random
        transforms, so a render is reproducible.
    """

    steps: int = 128
    batch_size: int = 64
    image_size: int = 32
    power: float = 2.0
    learning_rate: float = 0.05
    transforms: bool = True
    seed: int = 0


def _lucent():
    """lucent's optvis modules; kornia 0.4 (lucent's pin) warns about torch.jit at import."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated")
        from lucent.optvis import objectives, param, render, transform
        from lucent.optvis.objectives_util import _extract_act_pos
    return objectives, param, transform, render, _extract_act_pos


def prepare_render_process(device: str, threads: int) -> None:
    """Set up a rendering process before anything touches CUDA.

    With ``device: cpu`` the GPUs are hidden from the process: lucent puts its colour
    decorrelation on ``cuda:0`` whenever one is visible. Torch uses ``threads`` threads.
    """
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    torch.set_num_threads(threads)


def lucent_modules(device: torch.device):
    """lucent's objectives, param and transform modules, set to render on ``device``.

    lucent picks ``cuda:0`` at import whenever CUDA is visible; its parameters and
    jitter read that module global, so it is pointed at the device we render on.
    """
    objectives, param, transform, _, _ = _lucent()
    from lucent.optvis.param import spatial

    transform.device = device
    spatial.device = device
    if device.type == "cpu" and torch.cuda.is_available():
        # lucent's colour decorrelation places a matrix on cuda:0 whenever CUDA exists.
        raise RuntimeError("lucent renders on CUDA whenever a GPU is visible; run with "
                           "device: auto/cuda, or hide the GPU with CUDA_VISIBLE_DEVICES=")
    return objectives, param, transform


def centre_activation(layer_t: torch.Tensor) -> torch.Tensor:
    """(B, C) activation at the centre position (lucent's choice): of a conv map, its
    centre; of tokens (B, N, C), the middle token; a vector is itself."""
    if layer_t.dim() == 3:
        return layer_t[:, layer_t.shape[1] // 2, :]
    if layer_t.dim() == 4:
        _extract_act_pos = _lucent()[4]
        return _extract_act_pos(layer_t)[:, :, 0, 0]
    return layer_t.flatten(1)


def cosine_power_objective(layer: str, directions: torch.Tensor, power: float = 2.0):
    """Lucent objective: −Σ_b (h_b · v_b) · max(cos(h_b, v_b), 0.1)^n over the batch.

    Parameters
    ----------
    layer
        The layer's name as lucent's model hook knows it (module path with ``_``).
    directions
        (B, C) target vectors, one per image of the batch.
    power
        The cosine power n.

    Returns
    -------
    lucent.optvis.objectives.Objective
        To be minimised (lucent's convention); composes with lucent's other objectives.
    """
    objectives = _lucent()[0]

    @objectives.wrap_objective()
    def cosine_power(layer, directions, power):
        def inner(model):
            h = centre_activation(model(layer))
            v = directions.to(h.device, h.dtype)
            dot = (h * v).sum(dim=1)
            cos = dot / (h.norm(dim=1) * v.norm(dim=1)).clamp_min(1e-8)
            return -(dot * cos.clamp_min(COSINE_FLOOR) ** power).sum()

        return inner

    return cosine_power(layer, directions, power)


def robustness_transforms(image_size: int) -> list[Callable]:
    """Lucent's standard transforms with pad and jitter scaled from 128 px to ``image_size``."""
    transform = _lucent()[2]

    def px(value: float, least: int) -> int:
        return max(least, round(value * image_size / 128))

    return [
        transform.pad(px(12, 1), mode="constant", constant_value=0.5),
        transform.jitter(px(8, 2)),
        transform.random_scale([1 + (i - 5) / 50.0 for i in range(11)]),
        transform.random_rotate(list(range(-10, 11)) + 5 * [0]),
        transform.jitter(px(4, 2)),
    ]


def lucent_layer_name(module_path: str) -> str:
    """The name lucent's ``hook_model`` gives a module: its dotted path joined with ``_``."""
    return module_path.replace(".", "_")


@dataclass
class RenderResult:
    """Rendered images and how well they hit their targets.

    Attributes
    ----------
    images
        uint8 (N, S, S, 3).
    cosine_start, cosine_end
        cos(h, v) at the centre position of the starting noise and of the final image
        (seen without transforms).
    objective_end
        The objective (h · v) · cos^n of the final image, without transforms.
    """

    images: np.ndarray
    cosine_start: np.ndarray
    cosine_end: np.ndarray
    objective_end: np.ndarray


@torch.no_grad()
def score_images(model: nn.Module, module_path: str, images: torch.Tensor,
                 directions: torch.Tensor, power: float) -> tuple[np.ndarray, np.ndarray]:
    """cos(h, v) and the objective (h · v)·cos^n of images in [0, 1] (B, 3, S, S)."""
    with capture_layer(model, module_path) as captured:
        h = centre_activation(run_to_layer(model, images, captured)).double()
    v = directions.to(h.device).double()
    dot = (h * v).sum(dim=1)
    cos = dot / (h.norm(dim=1) * v.norm(dim=1)).clamp_min(1e-12)
    objective = dot * cos.clamp_min(COSINE_FLOOR) ** power
    return cos.cpu().numpy(), objective.cpu().numpy()


def render_batch(model: nn.Module, module_path: str, directions: torch.Tensor,
                 settings: RenderSettings, seed: int) -> RenderResult:
    """Optimise one image per row of ``directions`` in a single batch."""
    device = next(model.parameters()).device
    objectives, param, transform = lucent_modules(device)
    torch.manual_seed(seed)
    # lucent's random transforms draw from numpy's global RNG: seed it for reproducibility.
    np.random.seed(seed % 2**32)  # noqa: NPY002
    directions = directions.to(device)
    size = settings.image_size
    params, image_f = param.image(size, batch=len(directions))
    optimizer = torch.optim.Adam(params, lr=settings.learning_rate)
    # As lucent's render_vis with a fixed image size: the transformed image is resized back
    # to ``size``, so the model always sees its input size.
    transform_f = transform.compose(
        [*(robustness_transforms(size) if settings.transforms else []),
         torch.nn.Upsample(size=size, mode="bilinear", align_corners=True)])
    objective = cosine_power_objective(lucent_layer_name(module_path), directions, settings.power)
    cosine_start, _ = score_images(model, module_path, image_f().detach(), directions,
                                   settings.power)
    with capture_layer(model, module_path) as captured:
        for _ in range(settings.steps):
            optimizer.zero_grad(set_to_none=True)
            acts = run_to_layer(model, transform_f(image_f()), captured)
            objective(lambda _name, acts=acts: acts).backward()
            optimizer.step()
    final = image_f().detach()
    cosine_end, objective_end = score_images(model, module_path, final, directions,
                                             settings.power)
    images = (final.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().to(torch.uint8)
    return RenderResult(images.cpu().numpy(), cosine_start, cosine_end, objective_end)


def render_directions(model: nn.Module, module_path: str, directions: np.ndarray,
                      settings: RenderSettings, progress: bool = True,
                      description: str = "rendering") -> RenderResult:
    """Render an activation image for every row of ``directions``, batch by batch.

    Parameters
    ----------
    model
        The network, in eval mode, on the device to render on.
    module_path
        Dotted module path of the target layer.
    directions
        (N, C) target activation vectors (node averages or single activation vectors).
    settings
        Steps, batch size, image size, power, learning rate, seed.
    progress
        Show a progress bar over images.

    Returns
    -------
    RenderResult
        Images in the order of ``directions``.
    """
    directions = np.asarray(directions, dtype=np.float32)
    if directions.ndim != 2 or len(directions) == 0:
        raise ValueError(f"directions must be a non-empty (N, C) array, got {directions.shape}")
    if not np.isfinite(directions).all():
        raise ValueError("directions contain NaN or infinite values")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)  # gradients flow to the image only
    parts: list[RenderResult] = []
    with tqdm(total=len(directions), desc=description, unit="image", disable=not progress) as bar:
        for first in range(0, len(directions), settings.batch_size):
            batch = torch.from_numpy(directions[first:first + settings.batch_size])
            parts.append(render_batch(model, module_path, batch, settings,
                                      seed=settings.seed * 1_000_003 + first))
            bar.update(len(batch))
    return RenderResult(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                          ("images", "cosine_start", "cosine_end", "objective_end")))


def render_with_lucent(model: nn.Module, module_path: str, direction: np.ndarray,
                       settings: RenderSettings) -> np.ndarray:
    """One target through lucent's own ``render_vis`` (the one-at-a-time reference).

    Same objective, parametrization, transforms and step count; lucent runs the whole
    model and hooks every module. Returns a uint8 (S, S, 3) image.
    """
    device = next(model.parameters()).device
    objectives, param, transform = lucent_modules(device)
    render = _lucent()[3]

    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed)  # noqa: NPY002 (lucent's transforms use the global RNG)
    target = torch.from_numpy(np.asarray(direction, dtype=np.float32)[None]).to(device)
    objective = cosine_power_objective(lucent_layer_name(module_path), target, settings.power)
    images = render.render_vis(
        model, objective,
        param_f=lambda: param.image(settings.image_size),
        optimizer=lambda params: torch.optim.Adam(params, lr=settings.learning_rate),
        transforms=robustness_transforms(settings.image_size) if settings.transforms else [],
        thresholds=(settings.steps,), preprocess=False, progress=False, show_image=False,
        fixed_image_size=settings.image_size,
    )
    return (np.clip(images[-1][0], 0, 1) * 255).round().astype(np.uint8)


# --------------------------------------------------------------------------- files


def contact_sheet(images: np.ndarray, order: np.ndarray | None = None, columns: int = 0,
                  gap: int = 2) -> np.ndarray:
    """Tile uint8 (N, S, S, 3) images on a white grid, in ``order``."""
    images = np.asarray(images)
    if order is not None:
        images = images[np.asarray(order)]
    n, size = len(images), images.shape[1]
    columns = columns or max(1, int(np.ceil(np.sqrt(n))))
    rows = max(1, int(np.ceil(n / columns)))
    step = size + gap
    sheet = np.full((rows * step + gap, columns * step + gap, 3), 255, dtype=np.uint8)
    for k, image in enumerate(images):
        r, c = divmod(k, columns)
        sheet[gap + r * step:gap + r * step + size, gap + c * step:gap + c * step + size] = image
    return sheet
