"""`evision preflight --plan FILE`: check the account before `cdk deploy` does (read-only).

The plan is what the stack will ask of the account (`python -m infra.preflight_plan` writes it
from the same context as `cdk deploy`; `make preflight` pipes one into the other). Every finding
is one line; exit 1 if any check failed, 0 otherwise (warnings included).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plan",
        required=True,
        metavar="FILE",
        help="the deployment's plan as JSON (- for standard input): python -m infra.preflight_plan",
    )
    parser.add_argument("--quiet", action="store_true", help="print only warnings and failures")


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from rich.console import Console

    from services.adapters.registry import open_backend
    from services.preflight.checks import run_checks
    from services.preflight.plan import PreflightPlan
    from services.settings import BackendSettings

    console = Console(highlight=False, soft_wrap=True)
    text = sys.stdin.read() if args.plan == "-" else Path(args.plan).read_text()
    try:
        plan = PreflightPlan.model_validate_json(text)
    except ValidationError as exc:
        console.print(f"[red]FAIL[/red] plan: not a deployment plan: {exc.errors()[0]['msg']}")
        return 2
    backend = open_backend(BackendSettings(backend="aws"))
    try:
        probe = backend.deployment.preflight_probe()
        assert probe is not None  # the aws backend always has one
        findings = run_checks(plan, probe)
    finally:
        backend.close()
    colours = {"ok": "green", "warn": "yellow", "fail": "red"}
    for finding in findings:
        if finding.severity != "ok" or not args.quiet:
            console.print(f"[{colours[finding.severity]}]{finding.line()}[/]")
    failed = sum(f.severity == "fail" for f in findings)
    warned = sum(f.severity == "warn" for f in findings)
    console.print(f"preflight: {failed} failed, {warned} warnings, {len(findings) - failed - warned} ok")
    return 1 if failed else 0
