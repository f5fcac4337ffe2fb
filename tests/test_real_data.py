"""Real-data loaders on small data written in the real on-disk formats."""

import pickle

import numpy as np
import pytest
from PIL import Image
from torchvision import transforms

from conftest import planned_outputs, snakemake, tiny_config, write_config
from topoact import data, store


def write_cifar10(root, per_batch=4, seed=0):
    """CIFAR-10's python batches (pickled dicts of 'data' (N, 3072) and 'labels')."""
    rng = np.random.default_rng(seed)
    folder = root / data.CIFAR10_FOLDER
    folder.mkdir(parents=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    written = {}
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        flat = images.transpose(0, 3, 1, 2).reshape(per_batch, 3072)  # channel planes
        (folder / name).write_bytes(pickle.dumps({"data": flat, "labels": labels,
                                                  "batch_label": name}))
        written[name] = (images, labels)
    return names, written


def collect(source):
    images, labels = zip(*source.batches(7), strict=True)
    return np.concatenate(images), np.concatenate(labels)


def test_cifar10_reads_the_python_batches_in_order(tmp_path):
    names, written = write_cifar10(tmp_path)
    source = data.load_dataset("cifar10", root=str(tmp_path))
    assert source.classes == names
    assert source.splits == {"train": (0, 20), "test": (20, 24)}
    images, labels = collect(source)
    order = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    np.testing.assert_array_equal(images, np.concatenate([written[n][0] for n in order]))
    np.testing.assert_array_equal(labels, np.concatenate([written[n][1] for n in order]))


def test_cifar10_names_a_missing_or_broken_batch(tmp_path):
    write_cifar10(tmp_path)
    (tmp_path / data.CIFAR10_FOLDER / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        data.load_dataset("cifar10", root=str(tmp_path))
    (tmp_path / data.CIFAR10_FOLDER / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="data_batch_3: not a CIFAR-10 python batch"):
        data.load_dataset("cifar10", root=str(tmp_path))


def write_folder(root, classes, per_class, size=(40, 30), seed=0):
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True)
        for k in range(per_class):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"img{k:02d}.png")


def test_imagefolder_samples_per_class_resizes_and_crops(tmp_path):
    write_folder(tmp_path, ["n02", "n01", "n03"], per_class=6)
    source = data.load_dataset("imagefolder", root=str(tmp_path), per_class=4, resize=20,
                               crop=16, test_fraction=0.25,
                               class_names={"n01": "tench", "n02": "goldfish"})
    assert source.classes == ["tench", "goldfish", "n03"]  # sorted folders, readable names
    assert source.count == 12 and source.splits == {"train": (0, 9), "test": (9, 12)}
    images, labels = collect(source)
    assert images.shape == (12, 16, 16, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [4, 4, 4]
    # Each stored image is torchvision's Resize(20) + CenterCrop(16) of one of the files.
    pipeline = transforms.Compose([transforms.Resize(20), transforms.CenterCrop(16)])
    expected = {path.name + path.parent.name: np.asarray(pipeline(Image.open(path).convert("RGB")))
                for path in tmp_path.rglob("*.png")}
    for image in images:
        assert any(np.array_equal(image, e) for e in expected.values())


def test_imagefolder_reports_unreadable_files_by_path(tmp_path):
    write_folder(tmp_path, ["cat", "dog"], per_class=3)
    broken = tmp_path / "dog" / "img01.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(ValueError, match=r"1 unreadable image file\(s\), e.g. .*dog/img01.png"):
        data.load_dataset("imagefolder", root=str(tmp_path), resize=16, crop=16)
    source = data.load_dataset("imagefolder", root=str(tmp_path), resize=16, crop=16,
                               skip_unreadable=True)
    assert source.count == 5
    images, labels = collect(source)
    assert len(images) == 5 and sorted(labels.tolist()) == [0, 0, 0, 1, 1]


def test_imagefolder_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        data.load_dataset("imagefolder", root=str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        data.load_dataset("imagefolder", root=str(tmp_path / "empty"))


def test_imagenette_reads_train_and_val_with_imagenet_names(tmp_path):
    folder = tmp_path / "imagenette2-160"
    write_folder(folder / "train", ["n01440764", "n03888257"], per_class=3)
    write_folder(folder / "val", ["n01440764", "n03888257"], per_class=2, seed=1)
    source = data.load_dataset("imagenette", root=str(tmp_path), size="160px", resize=32,
                               crop=32)
    assert source.classes == ["tench", "parachute"]
    assert source.splits == {"train": (0, 6), "test": (6, 10)}
    images, labels = collect(source)
    assert images.shape == (10, 32, 32, 3)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 1, 1]


@pytest.mark.workflow
def test_workflow_writes_a_cifar10_store_and_plans_its_download(tmp_path):
    write_cifar10(tmp_path / "cifar-root")
    config = tiny_config()
    config["datasets"]["cifar"] = {"loader": "cifar10", "root": str(tmp_path / "cifar-root")}
    configfile = write_config(tmp_path, config)
    snakemake(tmp_path, configfile, "results/data/cifar.zarr")
    info = store.image_store_info(store.open_store(tmp_path / "results/data/cifar.zarr", "images"))
    assert info.count == 24 and info.classes[0] == "airplane" and info.shape == (32, 32, 3)
    assert info.splits == {"train": (0, 20), "test": (20, 24)}
    # With download: true the download is its own local job, planned before the store.
    config["datasets"]["cifar"]["download"] = True
    config["datasets"]["cifar"]["root"] = str(tmp_path / "fresh-root")
    configfile = write_config(tmp_path, config, "download.yaml")
    planned = planned_outputs(tmp_path, configfile, "results/data/cifar.zarr")
    assert planned == {"download_dataset": ["results/downloads/cifar.done"],
                       "dataset": ["results/data/cifar.zarr"]}
