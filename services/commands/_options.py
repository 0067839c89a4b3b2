"""Command-line options shared by `up`, `web` and `worker` (they override EVISION_* settings)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from services.adapters.registry import backend_names
from services.log_config import setup_logging

__all__ = [
    "add_address_options",
    "add_backend_options",
    "address_overrides",
    "backend_overrides",
    "setup_logging",
]


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=backend_names(), help="queue and storage backend (env EVISION_BACKEND)"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="local backend data directory (env EVISION_DATA_DIR, default .evision)"
    )


def backend_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Only what was given on the command line, so the environment fills in the rest."""
    return _given(args, "backend", "data_dir")


def add_address_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address (env EVISION_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (env EVISION_PORT, default 8000)")


def address_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return _given(args, "host", "port")


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
