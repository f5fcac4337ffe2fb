"""Config validation: defaults, and errors that name the key and list valid choices."""

import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, SNAKEMAKE, write_config
from topoact.config import ConfigError, load_schema, undocumented_keys, validate_config

SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")


def _error(config) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config, SCHEMA)
    return str(info.value)


def test_every_key_has_a_description_and_a_default():
    assert undocumented_keys(SCHEMA) == []


def test_empty_config_gets_the_embedded_default_and_equals_config_yaml():
    empty = validate_config({}, SCHEMA)
    shipped = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()), SCHEMA)
    assert empty == shipped
    assert empty["analyses"][0]["layers"] == ["conv1", "conv2", "conv3", "conv4", "fc1"]


def test_unknown_key_is_named_with_the_valid_keys():
    message = _error({"activations": {"sampling": ["random"]}})
    assert "'sampling' under activations not known" in message
    assert ("valid keys: batch_size, border, chunk_mb, foreground, noise_seed, noise_sigmas, "
            "samplings, skip_tokens, split") in message


def test_wrong_type_and_out_of_range_values_are_named():
    message = _error({"activations": {"batch_size": "big", "border": -1},
                      "datasets": {"digits": {"test_fraction": 1.5}}})
    assert "activations.batch_size: expected integer, got str 'big'" in message
    assert "activations.border: value -1 out of range; expected >= 0" in message
    assert "datasets.digits.test_fraction: value 1.5 out of range; expected < 1" in message


def test_unknown_enum_value_lists_the_choices():
    message = _error({"activations": {"samplings": ["random", "everything", "foreground-top0"]},
                      "datasets": {"digits": {"segmentation": "otsu"}}})
    assert "activations.samplings[1]: value 'everything' is not allowed" in message
    assert "activations.samplings[2]: value 'foreground-top0' is not allowed" in message
    assert "random, full, top-l2, foreground-top{p} or background-top{p} (p >= 1)" in message
    assert ("datasets.digits.segmentation: value 'otsu' is not allowed; choose one of "
            "['grabcut', 'deeplabv3']") in message


def test_unknown_layer_is_named_with_the_valid_layers():
    message = _error({"analyses": [{"layers": ["conv2", "conv7"]}]})
    assert "analyses[0].layers: unknown layer 'conv7'" in message
    assert "valid layers: ['conv1', 'conv2', 'conv3', 'conv4', 'fc1', 'logits']" in message


def test_undefined_model_and_dataset_references_are_named():
    message = _error({"analyses": [{"model": "resnet", "dataset": "cifar"}]})
    assert "analyses[0].dataset: unknown dataset 'cifar'; defined datasets: ['digits']" in message
    assert "analyses[0].model: unknown model 'resnet'; defined models: ['digits-cnn']" in message


@pytest.mark.workflow
def test_snakemake_refuses_a_bad_config_at_start(tmp_path):
    config = write_config(tmp_path, {"analyses": [{"layers": ["conv7"]}]})
    result = subprocess.run([*SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory",
                             str(tmp_path), "--configfile", str(config), "-n", "--cores", "1"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "unknown layer 'conv7'" in result.stdout + result.stderr


def test_cli_check_config(tmp_path):
    good = write_config(tmp_path, {"device": "cpu"}, "good.yaml")
    bad = write_config(tmp_path, {"device": "tpu"}, "bad.yaml")
    ok = subprocess.run([sys.executable, "-m", "topoact.cli", "check-config", str(good)],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "valid" in ok.stdout
    no = subprocess.run([sys.executable, "-m", "topoact.cli", "check-config", str(bad)],
                        capture_output=True, text=True)
    assert no.returncode == 1 and "device: value 'tpu' is not allowed" in no.stderr


def test_real_dataset_options_are_checked():
    message = _error({"datasets": {"digits": {}, "folder": {"loader": "imagefolder"},
                                   "mine": {"loader": "digits", "download": True}}})
    assert "datasets.folder.root: the imagefolder loader needs the path" in message
    assert "datasets.mine.download: loader 'digits' downloads nothing" in message
    message = _error({"datasets": {"digits": {}, "nette": {"loader": "imagenette",
                                                           "size": "64px"}}})
    assert "datasets.nette.size: value '64px' is not allowed" in message


def test_imagenet_weights_exist_only_for_torchvision_architectures():
    message = _error({"models": {"digits-cnn": {"weights": "imagenet"}}})
    assert "models.digits-cnn.weights: no ImageNet weights for 'small-cnn'" in message


@pytest.mark.workflow
def test_numeric_and_boolean_strings_from_the_command_line_are_read_as_such(tmp_path):
    """`--config mapper='{"overlaps": [20, 30, 40]}'` reaches the config as strings."""
    config = validate_config({"mapper": {"overlaps": ["20", "30", "40"], "intervals": "12",
                                         "fixed_epsilon": "0.5"},
                              "weights": {"updates": "false"}}, SCHEMA)
    assert config["mapper"]["overlaps"] == [20, 30, 40]
    assert config["mapper"]["intervals"] == 12 and config["mapper"]["fixed_epsilon"] == 0.5
    assert config["weights"]["updates"] is False
    # A string that is not a number stays an error; a float is not an integer.
    assert "mapper.intervals: expected integer, got str 'many'" in _error(
        {"mapper": {"intervals": "many"}})
    assert "mapper.intervals: expected integer, got str '12.5'" in _error(
        {"mapper": {"intervals": "12.5"}})
    # Through Snakemake itself: the dry run plans the three overlaps' graphs.
    result = subprocess.run([*SNAKEMAKE, "-n", "--cores", "1", "--snakefile",
                             str(ROOT / "Snakefile"), "--configfile", str(ROOT / "config.yaml"),
                             "--directory", str(tmp_path),
                             "--config", 'mapper={"overlaps": [20, 30, 40]}'],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "overlap-40-epsilon-adaptive" in result.stdout
