"""How every `evision` process logs: one format, the level from `EVISION_LOG_LEVEL`.

`EVISION_LOG_FORMAT=json` (the cloud's instances) writes one JSON object per line, which
CloudWatch Logs Insights reads field by field (`filter level = "ERROR"`); `text` for a terminal.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
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
    log_format: Literal["text", "json"] = Field(
        default="text", description="text: for a terminal; json: one object per line (CloudWatch Logs)"
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, process, message, and
    the traceback where there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _formatter(settings: LoggingSettings) -> logging.Formatter:
    return JsonFormatter() if settings.log_format == "json" else logging.Formatter(FORMAT)


def setup_logging() -> None:
    settings = LoggingSettings()
    handler = logging.StreamHandler()
    handler.setFormatter(_formatter(settings))
    logging.basicConfig(level=settings.log_level, handlers=[handler])


def dict_config() -> dict[str, Any]:
    """The same as `setup_logging`, for uvicorn's `log_config` (which its spawned web processes
    apply: they do not run `setup_logging`); uvicorn's loggers propagate to the root's handler."""
    settings = LoggingSettings()
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if settings.log_format == "json" else {"format": FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"level": settings.log_level, "handlers": ["stderr"]},
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error")},
    }
