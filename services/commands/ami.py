"""`evision ami pin`: pin the Amazon Linux 2023 image the instances boot, in cdk.context.json.

The stack boots the image pinned for its region (context `amiIds`, infra/images.py), so an
Amazon Linux release rolls no instance by itself: moving the pin is this one command (`make
refresh-ami`), then a deploy. `make deploy` runs it with --if-unpinned, so the first deploy into
a region pins the newest image and later deploys keep it. Commit cdk.context.json: the same
commit then deploys the same bytes from any machine.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

ARCHITECTURES = ("x86_64", "arm64")
KEY = "amiIds"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["pin"], help="pin: the newest AL2023 image, per architecture")
    parser.add_argument("--region", help="the region to pin (default: the credentials' region)")
    parser.add_argument(
        "--if-unpinned", action="store_true", help="leave a region that has a pin as it is (make deploy)"
    )
    parser.add_argument(
        "--context-file",
        type=Path,
        default=Path("cdk.context.json"),
        help="the CDK context cache to write (default: ./cdk.context.json)",
    )


def run(args: argparse.Namespace) -> int:
    from services.adapters.registry import open_backend
    from services.settings import BackendSettings

    if args.region:  # boto3 reads it, as the CDK CLI does for the deploy
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = args.region
    cached = json.loads(args.context_file.read_text()) if args.context_file.is_file() else {}
    pins: dict[str, dict[str, str]] = cached.get(KEY, {})
    backend = open_backend(BackendSettings(backend="aws"))
    try:
        probe = backend.deployment.preflight_probe()
        assert probe is not None  # the aws backend always has one
        _, region = probe.identity()
        if args.if_unpinned and set(ARCHITECTURES) <= set(pins.get(region, {})):
            print(f"amiIds: {region} is pinned ({_listed(pins[region])}); make refresh-ami moves it")
            return 0
        latest = {architecture: probe.latest_image(architecture) for architecture in ARCHITECTURES}
    finally:
        backend.close()
    before = pins.get(region, {})
    pins[region] = latest
    args.context_file.write_text(json.dumps({**cached, KEY: dict(sorted(pins.items()))}, indent=2) + "\n")
    moved = "unchanged" if before == latest else f"was {_listed(before) or 'unpinned'}"
    print(f"amiIds: {region} pinned to {_listed(latest)} ({moved}) in {args.context_file}")
    return 0


def _listed(images: dict[str, str]) -> str:
    return ", ".join(f"{architecture} {image}" for architecture, image in sorted(images.items()))
