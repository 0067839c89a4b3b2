"""Web tier settings: the shared backend settings plus what only the web tier needs."""

from __future__ import annotations

from pydantic import Field

from services.settings import BackendSettings

MIB = 1024 * 1024


class WebSettings(BackendSettings):
    """Read from EVISION_* environment variables (prefix inherited from BackendSettings)."""

    reply_queue: str = Field(
        default="evision-replies",
        description="this web process's own reply queue (one web process per reply queue)",
    )
    wait_seconds: float = Field(
        default=30.0, gt=0, description="how long a request waits for its result before answering 202"
    )
    max_upload_bytes: int = Field(default=10 * MIB, gt=0, description="largest accepted image")
    summary_seconds: float = Field(
        default=10.0, gt=0, description="while busy, one log line per this many seconds (uploads/s, queue)"
    )
    reply_poll_seconds: float = Field(
        default=5.0, gt=0, le=20, description="long-poll wait of the reply consumer (bounds shutdown time)"
    )
