"""Settings shared by every process (web, worker, supervisor), from `EVISION_*` variables.

`EvisionSettings` is the one environment contract: every settings class reads its fields from
`EVISION_<FIELD>` and renders itself back to those variables (`environment()`), so whatever
starts a process or writes user data (infra, `evision up`, the bench, the tests) passes settings
objects, never hand-typed variable names. Unknown constructor arguments are refused (a renamed
field fails loudly instead of silently not reaching a process).

The AWS endpoint is deliberately not a setting: boto3 reads the standard `AWS_ENDPOINT_URL`
(and the standard credential chain) itself.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Self

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from services.backend_names import DEFAULT_BACKEND, backend_names

ENV_PREFIX = "EVISION_"
_VALUES_ONLY: ContextVar[bool] = ContextVar("evision_settings_values_only", default=False)


CHECKOUT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    """`.evision` at the root of the source checkout this package runs from, whatever the current
    directory (so `evision status` finds what `evision up` writes from anywhere); for a package
    installed from a wheel, in the current directory. `EVISION_DATA_DIR` overrides both."""
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "services").is_dir():
        return CHECKOUT / ".evision"
    return Path.cwd() / ".evision"


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | Path):
        return str(value)
    return json.dumps(value)


class EvisionSettings(BaseSettings):
    """Base of every settings class: `EVISION_*` variables in, `EVISION_*` variables out."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    @classmethod
    def variable(cls, field: str) -> str:
        if field not in cls.model_fields:
            raise KeyError(f"{cls.__name__} has no setting {field!r}")
        return f"{ENV_PREFIX}{field.upper()}"

    @classmethod
    def variables(cls) -> set[str]:
        """Every environment variable this class reads."""
        return {cls.variable(name) for name in cls.model_fields}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _VALUES_ONLY.get():
            return (init_settings,)
        return (init_settings, env_settings, dotenv_settings, file_secret_settings)

    @classmethod
    def from_values(cls, **values: Any) -> Self:
        """Exactly these values and the defaults: this process's environment is not read.

        For rendering another process's settings (infra's user data, the bench's children).
        """
        token = _VALUES_ONLY.set(True)
        try:
            return cls(**values)
        finally:
            _VALUES_ONLY.reset(token)

    def environment(
        self, *, explicit_only: bool = False, only: type[EvisionSettings] | None = None
    ) -> dict[str, str]:
        """The `EVISION_*` variables that rebuild these settings in another process.

        `explicit_only`: only the fields given when this object was made (the rest stay the
        other process's own defaults, e.g. a thread count from its CPU count). `only`: just the
        fields of that settings class (e.g. what every process shares: `BackendSettings`).
        """
        data = self.model_dump(mode="python")
        # In declaration order, always: a template's user data must not change between syntheses.
        given = self.model_fields_set
        names = [name for name in data if data[name] is not None and (name in given or not explicit_only)]
        if only is not None:
            names = [name for name in names if name in only.model_fields]
        return {self.variable(name): _render(data[name]) for name in names}


class BackendSettings(EvisionSettings):
    backend: str = Field(default=DEFAULT_BACKEND, description="storage and queue backend")
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="local backend: blob files and the SQLite queue database",
    )
    input_bucket: str = Field(default="evision-input", description="where uploads and job images are put")
    output_bucket: str = Field(default="evision-output", description="results, the source of truth")
    request_queue: str = Field(default="evision-requests", description="uploads waiting for a worker")
    dead_letter_queue: str = Field(
        default="evision-requests-dlq", description="requests that failed every receive"
    )
    # Batch jobs' chunk messages: drained by the workers after the request queue (services/jobs/).
    job_queue: str = "evision-jobs"
    job_dead_letter_queue: str = Field(
        default="evision-jobs-dlq", description="job chunks that failed every receive"
    )
    job_chunk_size: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="source keys per job message (one receive, shard and delete per chunk); the "
        "scaling sees a job message as this many images",
    )
    max_receives: int = Field(default=3, ge=1, le=1000, description="receives before the dead-letter queue")
    visibility_timeout: float = Field(
        default=10.0,
        gt=0,
        le=43200,
        description="the lease on a received message, in seconds: the worker's heartbeat renews it "
        "while a batch runs, so a dead worker's messages come back within it",
    )
    input_expiry_days: float = Field(
        default=30.0,
        gt=0,
        description="inputs older than this are deleted: locally by a background sweep, in the cloud by "
        "the input bucket's lifecycle rule (infra's input_expiry_days)",
    )
    result_expiry_days: float = Field(
        default=30.0,
        gt=0,
        description="local backend: results older than this are deleted (the cloud keeps results)",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.absolute()  # children started elsewhere must find the same directory

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in backend_names():
            raise ValueError(f"unknown backend {value!r}; known: {', '.join(backend_names())}")
        return value
