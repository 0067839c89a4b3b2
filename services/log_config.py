"""How every `evision` process logs: one format, the level from `EVISION_LOG_LEVEL`."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import Field

from services.settings import EvisionSettings

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


class LoggingSettings(EvisionSettings):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="INFO: changes of state, errors, a summary every 10 s while busy; "
        "DEBUG: every batch and period too",
    )


def setup_logging() -> None:
    logging.basicConfig(level=LoggingSettings().log_level, format=FORMAT)


def dict_config() -> dict[str, Any]:
    """The same as `setup_logging`, for uvicorn's `log_config` (which its spawned web processes
    apply: they do not run `setup_logging`); uvicorn's loggers propagate to the root's handler."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"level": LoggingSettings().log_level, "handlers": ["stderr"]},
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error")},
    }
