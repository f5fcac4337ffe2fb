"""The ``topoact`` command line: inspect stores, list layers, check configs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


def _layers(args: argparse.Namespace) -> int:
    from topoact import models

    names = [args.architecture] if args.architecture else sorted(models.ARCHITECTURES)
    for name in names:
        arch = models.get_architecture(name)
        shapes = models.layer_shapes(arch.build(10), arch.layers, arch.input_size)
        print(f"{name}: {arch.description}")
        for layer, module in arch.layers.items():
            print(f"  {layer:<12} module {module:<16} activation {tuple(shapes[layer])}")
    return 0


def _info(args: argparse.Namespace) -> int:
    import zarr

    group = zarr.open_group(args.store, mode="r")
    attrs = dict(group.attrs)
    print(f"{args.store}: kind {attrs.get('kind')!r}, complete {attrs.get('complete')}")
    for name in sorted(group.array_keys()):
        array = group[name]
        print(f"  {name:<10} {str(array.dtype):<8} shape {array.shape} chunks {array.chunks}")
    if args.attrs:
        print(json.dumps(attrs, indent=2))
    return 0


def _check_config(args: argparse.Namespace) -> int:
    import yaml

    from topoact.config import ConfigError, validate_config

    config = yaml.safe_load(Path(args.config).read_text()) or {}
    try:
        validate_config(config, SCHEMA, str(args.config))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{args.config}: valid")
    if args.show:
        print(yaml.safe_dump(config, sort_keys=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``topoact`` (one subcommand per task)."""
    parser = argparse.ArgumentParser(
        prog="topoact",
        description="Topological summaries of CNN activations. The workflow runs with "
                    "`snakemake --cores all`; these commands work on its files directly.")
    commands = parser.add_subparsers(dest="command", required=True)

    layers = commands.add_parser("layers", help="list the readable layer names of architectures")
    layers.add_argument("architecture", nargs="?", help="one architecture (default: all)")
    layers.set_defaults(run=_layers)

    info = commands.add_parser("info", help="summarise a zarr store (images, activations, ...)")
    info.add_argument("store", help="path of a *.zarr store")
    info.add_argument("--attrs", action="store_true", help="also print its attributes (JSON)")
    info.set_defaults(run=_info)

    check = commands.add_parser("check-config", help="validate a workflow config file")
    check.add_argument("config", help="path of a config YAML")
    check.add_argument("--show", action="store_true", help="print it with defaults filled in")
    check.set_defaults(run=_check_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``topoact`` command."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
