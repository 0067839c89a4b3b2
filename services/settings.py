"""Backend settings shared by every process (web, worker, supervisor), from `EVISION_*` variables.

The AWS endpoint is deliberately not a setting: boto3 reads the standard `AWS_ENDPOINT_URL`
(and the standard credential chain) itself. Web- and worker-specific settings live in their
own modules and compose or subclass this one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BackendKind = Literal["local", "aws"]


class BackendSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVISION_", extra="ignore")

    backend: BackendKind = "local"
    data_dir: Path = Field(
        default_factory=lambda: Path.cwd() / ".evision",
        description="local backend: blob files and the SQLite queue database",
    )
    input_bucket: str = "evision-input"
    output_bucket: str = "evision-output"
    request_queue: str = "evision-requests"
    dead_letter_queue: str = "evision-requests-dlq"
    max_receives: int = Field(default=3, ge=1, le=1000, description="receives before the dead-letter queue")
    visibility_timeout: float = Field(default=60.0, gt=0, le=43200, description="seconds")
    aws_region: str | None = Field(
        default=None, description="falls back to the standard AWS_REGION chain, then us-east-1"
    )
