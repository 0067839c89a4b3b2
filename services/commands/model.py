"""`evision model check|add|list`: model folders (model/check.py) and the deployment's registry.

`check PATH` prints what held and the images/s of one inference thread per installed engine; a
failure is one line (what, and what to fix) and exit status 1. `quantize PATH` adds the int8
variant to a model folder (calibrated on its golden images; needs the export lock's `onnx`), then
checks the folder. `add PATH` checks the folder and,
if it passes, registers it with the backend (locally under the data dir, in the cloud in the
output bucket); `list` shows the registry: name@version, size, engines, images/s.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from services.commands._options import add_backend_options, backend_overrides

if TYPE_CHECKING:
    from services.ports.models import ModelRegistry


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="validate a model folder (manifest, labels, graph, golden images)"
    )
    check.add_argument("path", type=Path, help="the folder: metadata.json, the .onnx file, labels, testdata/")
    quantize = actions.add_parser(
        "quantize",
        help="add the int8 variant to a model folder (needs onnx: requirements-export.lock), then check",
    )
    quantize.add_argument("path", type=Path, help="the model folder (its metadata.json is updated)")
    add = actions.add_parser("add", help="check a model folder, then register it with the backend")
    add.add_argument("path", type=Path, help="the model folder")
    add_backend_options(add)
    listing = actions.add_parser("list", help="the registered models")
    listing.add_argument("--json", action="store_true", help="as JSON")
    add_backend_options(listing)


def run(args: argparse.Namespace) -> int:
    if args.action == "check":
        return _check(args)
    if args.action == "quantize":
        return _quantize(args)
    from services.adapters.registry import open_backend
    from services.settings import BackendSettings

    backend = open_backend(BackendSettings(**backend_overrides(args)))
    try:
        return _add(args, backend.models) if args.action == "add" else _list(args, backend.models)
    finally:
        backend.close()


def _add(args: argparse.Namespace, registry: ModelRegistry) -> int:
    from services.models.registration import register

    console = Console(highlight=False)
    entry, report = register(args.path, registry)
    for line in report.failures:
        console.print(f"[red]FAIL[/red]  {line}", soft_wrap=True)
    if entry is None:
        return 1
    speeds = ", ".join(f"{engine} {speed:.0f}/s" for engine, speed in entry.images_per_second.items())
    console.print(f"registered {entry.ref} ({entry.size_bytes / 1e6:.1f} MB; {speeds})")
    return 0


def _list(args: argparse.Namespace, registry: ModelRegistry) -> int:
    from services.models.catalog import catalog

    models = catalog(registry)
    if args.json:
        print(json.dumps([m.model_dump() for m in models], indent=2))
        return 0
    console = Console(highlight=False)
    for info in models:
        size = "-" if info.size_bytes is None else f"{info.size_bytes / 1e6:.1f} MB"
        speeds = ", ".join(f"{e} {v:.0f}/s" for e, v in info.images_per_second.items()) or "-"
        console.print(f"{info.model:40} {size:>9}  {speeds}{'  (default)' if info.default else ''}")
    return 0


def _quantize(args: argparse.Namespace) -> int:
    try:
        from model import quantize_folder

        variant = quantize_folder(args.path)
    except ImportError as error:
        Console(highlight=False).print(
            f"[red]FAIL[/red]  quantizing needs {error.name or 'onnx'}: "
            ".venv/bin/pip install --no-deps --require-hashes -r requirements-export.lock"
        )
        return 1
    Console(highlight=False).print(f"wrote {variant.file} (sha256 {variant.sha256[:12]}...)")
    return _check(args)


def _check(args: argparse.Namespace) -> int:
    from model import check_model_folder

    console = Console(highlight=False)
    report = check_model_folder(args.path)
    for line in report.passed:
        console.print(f"[green]ok[/green]    {line}")
    for engine, speed in report.images_per_second.items():
        console.print(f"[green]speed[/green] {engine}: {speed:.1f} images/s (one thread, batches of 4)")
    for line in report.failures:
        console.print(f"[red]FAIL[/red]  {line}", soft_wrap=True)
    return 0 if report.ok else 1
