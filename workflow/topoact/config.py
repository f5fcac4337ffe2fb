"""Configuration: schema validation with defaults, readable errors, and cross-checks.

Snakemake's own ``validate`` reports the first JSON-Schema error in schema terms; a
researcher wants every problem at once, by key path, with the valid choices. So the
Snakefile calls :func:`validate_config`, which fills defaults from the schema, reports
all errors, then checks what a schema cannot: names that refer to other entries and
layer names that must exist in the model's architecture.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators

from topoact.layers import IMAGENET_WEIGHTS, get_layer_table, is_user_architecture


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem found."""


def _key_path(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<top level>"


def _with_defaults(validator_class):
    """A validator class that also fills in each property's ``default``."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(Draft202012Validator)


def _describe(error) -> str:
    where = _key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        return (f"config key(s) {', '.join(repr(u) for u in unknown)} under {where} not known; "
                f"valid keys: {', '.join(known)}")
    if error.validator == "enum":
        return (f"config key {where}: value {error.instance!r} is not allowed; "
                f"choose one of {error.validator_value}")
    if error.validator == "type":
        return (f"config key {where}: expected {error.validator_value}, got "
                f"{type(error.instance).__name__} {error.instance!r}")
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
                "exclusiveMaximum": "<"}[error.validator]
        return (f"config key {where}: value {error.instance!r} out of range; "
                f"expected {sign} {error.validator_value}")
    if error.validator == "pattern" and "description" in error.schema:
        return (f"config key {where}: value {error.instance!r} is not allowed; expected "
                f"{error.schema['description'].strip()}")
    return f"config key {where}: {error.message}"


_JSON_TYPES = {"integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
               "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
               "boolean": lambda v: isinstance(v, bool), "null": lambda v: v is None}


def coerce_strings(config: dict, schema: dict) -> list[str]:
    """Turn numeric and boolean strings into the numbers and booleans the schema expects,
    in place; return the key paths changed.

    ``snakemake --config mapper='{"overlaps": [20, 30]}'`` passes nested values as strings
    (``'20'``); a string is read as YAML and kept when that gives an expected type.
    """
    changed = []
    for error in _DefaultingValidator(schema).iter_errors(copy.deepcopy(config)):
        if error.validator != "type" or not isinstance(error.instance, str):
            continue
        expected = error.validator_value
        expected = [expected] if isinstance(expected, str) else expected
        try:
            value = yaml.safe_load(error.instance)
        except yaml.YAMLError:
            continue
        if not any(_JSON_TYPES.get(kind, lambda v: False)(value) for kind in expected):
            continue
        *parents, key = error.absolute_path
        node = config
        for part in parents:
            node = node[part]
        node[key] = value
        changed.append(_key_path(error.absolute_path))
    return changed


def schema_errors(config: dict, schema: dict) -> Iterator[str]:
    """Fill ``config``'s defaults in place and describe each schema violation."""
    for error in sorted(_DefaultingValidator(schema).iter_errors(config),
                        key=lambda e: list(map(str, e.absolute_path))):
        yield _describe(error)


def reference_errors(config: dict) -> Iterator[str]:
    """Describe references to undefined datasets/models and unknown layer names."""
    datasets, models = config["datasets"], config["models"]
    extracted = config["activations"]["samplings"]
    for sampling in config["mapper"]["samplings"]:
        if sampling not in extracted:
            yield (f"config key mapper.samplings: sampling {sampling!r} is not extracted; "
                   f"activations.samplings has {extracted}")
    for name, dataset in datasets.items():
        if dataset["loader"] == "imagefolder" and not dataset["root"]:
            yield (f"config key datasets.{name}.root: the imagefolder loader needs the path "
                   "of a folder of class folders")
        if dataset["download"] and dataset["loader"] not in ("cifar10", "imagenette"):
            yield (f"config key datasets.{name}.download: loader {dataset['loader']!r} "
                   "downloads nothing (only cifar10 and imagenette do)")
    for name, model in models.items():
        if is_user_architecture(model["architecture"]) and not model["input_size"]:
            yield (f"config key models.{name}.input_size: a user model "
                   f"({model['architecture']!r}) needs the side of its square input")
        if model["weights"] == "imagenet" and model["architecture"] not in IMAGENET_WEIGHTS:
            yield (f"config key models.{name}.weights: no ImageNet weights for "
                       f"{model['architecture']!r}; they exist for {sorted(IMAGENET_WEIGHTS)}")
        if model["weights"] is None and model["dataset"] not in datasets:
            yield (f"config key models.{name}.dataset: unknown dataset {model['dataset']!r}; "
                   f"defined datasets: {sorted(datasets)}")
    for i, analysis in enumerate(config["analyses"]):
        where = f"analyses[{i}]"
        if analysis["dataset"] not in datasets:
            yield (f"config key {where}.dataset: unknown dataset {analysis['dataset']!r}; "
                   f"defined datasets: {sorted(datasets)}")
        yield from model_layer_errors(analysis, models, where)


def model_layer_errors(analysis: dict, models: dict, where: str) -> Iterator[str]:
    """Describe an analysis entry's unknown model or its layers unknown to the model."""
    if analysis["model"] not in models:
        yield (f"config key {where}.model: unknown model {analysis['model']!r}; "
               f"defined models: {sorted(models)}")
        return
    name = models[analysis["model"]]["architecture"]
    if is_user_architecture(name):
        return  # module paths: checked when the model is built (`topoact layers` lists them)
    architecture = get_layer_table(name)
    for layer in analysis["layers"]:
        if layer not in architecture.layers:
            yield (f"config key {where}.layers: unknown layer {layer!r} of model "
                   f"{analysis['model']!r} ({architecture.name}); valid layers: "
                   f"{list(architecture.layers)}")


def weight_reference_errors(config: dict) -> Iterator[str]:
    """Describe weight-space analyses of undefined models or unknown layers."""
    models = config["models"]
    trained = [a["model"] for a in config["weights"]["analyses"]
               if a["model"] in models and models[a["model"]]["weights"] is None]
    if config["weights"]["updates"] and trained and 0 not in config["weights"]["snapshots"]:
        yield ("config key weights.snapshots: weights.updates needs the initialisation, step 0, "
               f"among the snapshots (got {config['weights']['snapshots']}); add 0 or set "
               "weights.updates: false")
    for i, analysis in enumerate(config["weights"]["analyses"]):
        where = f"weights.analyses[{i}]"
        yield from model_layer_errors(analysis, models, where)


#: The config schema, shipped inside the package (``workflow/schemas/config.schema.yaml``
#: links to it, where Snakemake workflows keep theirs).
SCHEMA = Path(__file__).resolve().parent / "config.schema.yaml"


def load_schema(path: str | os.PathLike = SCHEMA) -> dict:
    """Read a YAML or JSON schema file."""
    return yaml.safe_load(Path(path).read_text())


def validate_config(config: dict, schema: dict | str | os.PathLike = SCHEMA,
                    source: str = "config") -> dict:
    """Validate a config against the schema and cross-check it; fill defaults in place.

    Parameters
    ----------
    config
        The parsed configuration (modified in place: defaults are added).
    schema
        The schema, or the path of ``config.schema.yaml`` (default: the package's).
    source
        Where the config came from, for the error message.

    Returns
    -------
    dict
        ``config``, with defaults, and numeric or boolean strings where the schema expects
        numbers or booleans read as such (:func:`coerce_strings`).

    Raises
    ------
    ConfigError
        Listing every problem, each naming the key path, the bad value and what was expected.
    """
    if not isinstance(schema, dict):
        schema = load_schema(schema)
    coerce_strings(config, schema)
    problems = list(schema_errors(config, schema))
    if not problems:
        problems = [*reference_errors(config), *weight_reference_errors(config)]
    if problems:
        raise ConfigError(f"invalid configuration ({source}):\n  - " + "\n  - ".join(problems))
    return config


def _resolve(root: dict, node: dict) -> dict:
    """Follow a local ``$ref`` (``#/$defs/...``)."""
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = root
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


def undocumented_keys(schema: dict) -> list[str]:
    """Every config key in ``schema`` that lacks a description or a default."""

    def walk(node: dict, where: str) -> Iterator[str]:
        for name, sub in node.get("properties", {}).items():
            key = f"{where}.{name}" if where else name
            if "description" not in sub or "default" not in sub:
                yield key
            resolved = _resolve(schema, sub)
            yield from walk(resolved, key)
            for part in ("items", "additionalProperties"):
                child = resolved.get(part)
                if isinstance(child, dict):
                    yield from walk(_resolve(schema, child), f"{key}[]")

    return list(walk(schema, ""))


#: The environment variable naming the folder that holds the topoact package.
LIBRARY_PATH_VARIABLE = "TOPOACT_LIBRARY"


def export_library_path() -> str:
    """Set ``TOPOACT_LIBRARY`` to the folder holding the package this process imports, for
    the post-deploy script of each conda environment (``envs/install-topoact.sh``), which
    puts that folder on the new environment's path; returns the folder."""
    folder = str(Path(__file__).resolve().parent.parent)
    os.environ[LIBRARY_PATH_VARIABLE] = folder
    return folder
