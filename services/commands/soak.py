"""`evision soak`: uploads against a real `evision up` while workers and the whole service are killed."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--uploads", type=int, default=2000, help="uploads in all (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="clients at once (default 16)")
    parser.add_argument("--worker-kills", type=int, default=3, help="worker SIGKILLs (default 3)")
    parser.add_argument(
        "--service-crashes",
        type=int,
        default=1,
        help="SIGKILLs of the whole service, each restarted (default 1)",
    )
    parser.add_argument(
        "--crash-loop",
        type=int,
        default=0,
        metavar="N",
        help="then N rounds: a burst of keyed uploads, the whole service SIGKILLed a few ms into it, "
        "a restart (default 0)",
    )
    parser.add_argument(
        "--crash-burst", type=int, default=32, help="uploads per crash-loop round (default 32)"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a fresh temporary directory")


def run(args: argparse.Namespace) -> int:
    from services.bench.soak import run_soak

    with tempfile.TemporaryDirectory(prefix="evision-soak-") as scratch:
        report = run_soak(
            uploads=args.uploads,
            concurrency=args.concurrency,
            worker_kills=args.worker_kills,
            service_crashes=args.service_crashes,
            crash_loop=args.crash_loop,
            crash_burst=args.crash_burst,
            workers=args.workers,
            data_dir=args.data_dir or Path(scratch),
        )
    for line in report.lines():
        print(line)
    print("clean: every accepted upload answered once, rightly" if report.clean else "NOT CLEAN")
    return 0 if report.clean else 1
