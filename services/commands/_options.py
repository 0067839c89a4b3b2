"""Command-line options shared by `up`, `web` and `worker` (they override EVISION_* settings)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from services.adapters.registry import backend_names
from services.log_config import setup_logging

__all__ = ["add_backend_options", "backend_overrides", "setup_logging"]


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=backend_names(), help="queue and storage backend (env EVISION_BACKEND)"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="local backend data directory (env EVISION_DATA_DIR, default .evision)"
    )


def backend_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Only what was given on the command line, so the environment fills in the rest."""
    names = {"backend": "backend", "data_dir": "data_dir"}
    return {field: getattr(args, arg) for arg, field in names.items() if getattr(args, arg, None) is not None}
