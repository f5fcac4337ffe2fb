"""Models: the architecture registry (readable layer names), training, saving, loading.

Every model takes RGB images in [0, 1] (N, 3, H, W) and applies its own input
normalization first, so activation extraction and feature visualization feed the
same pixels whatever the architecture.

The package is cut by concern: :mod:`~topoact.models.registry` (built-in architectures),
:mod:`~topoact.models.user` (users' and TorchScript models),
:mod:`~topoact.models.training` and :mod:`~topoact.models.checkpoints` (model files);
their public names are importable from here. Training on an images store is a step:
:mod:`topoact.steps.models`.
"""

from topoact.layers import TORCHSCRIPT
from topoact.models.checkpoints import (
    layer_shapes,
    load_checkpoint,
    load_model,
    load_weights,
    model_metadata,
    module_shapes,
    save_imagenet_weights,
    save_model,
    sidecar_path,
)
from topoact.models.registry import (
    ARCHITECTURES,
    CIFAR10_MEAN,
    CIFAR10_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Architecture,
    Normalize,
    SmallCNN,
    WithNormalize,
    build_alexnet,
    build_googlenet,
    build_inception_v3,
    build_resnet18,
    build_resnet18_cifar,
    find_module,
    get_architecture,
    imagenet_pretrained,
)
from topoact.models.training import TrainingRecord, accuracy, check_logits, train_classifier
from topoact.models.user import ScriptTap, architecture_of, scripted_output, user_architecture

__all__ = [
    "ARCHITECTURES", "Architecture", "CIFAR10_MEAN", "CIFAR10_STD", "IMAGENET_MEAN",
    "IMAGENET_STD", "Normalize", "ScriptTap", "SmallCNN", "TORCHSCRIPT", "TrainingRecord",
    "WithNormalize", "accuracy", "architecture_of", "build_alexnet", "build_googlenet",
    "build_inception_v3", "build_resnet18", "build_resnet18_cifar", "check_logits",
    "find_module", "get_architecture", "imagenet_pretrained", "layer_shapes",
    "load_checkpoint", "load_model", "load_weights", "model_metadata", "module_shapes",
    "save_imagenet_weights", "save_model", "scripted_output", "sidecar_path",
    "train_classifier", "user_architecture",
]
