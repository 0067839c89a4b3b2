"""`evision model check PATH`: whether a folder is a model the service can serve (model/check.py).

Prints what held and the images/s of one inference thread per installed engine; a failure is one
line (what, and what to fix) and exit status 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="validate a model folder (manifest, labels, graph, golden images)"
    )
    check.add_argument("path", type=Path, help="the folder: metadata.json, the .onnx file, labels, testdata/")


def run(args: argparse.Namespace) -> int:
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
