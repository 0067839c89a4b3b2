"""Web tier settings: the shared backend settings plus what only the web tier needs."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from services.settings import BackendSettings
from services.web.uploads.crash_points import CrashPoint

MIB = 1024 * 1024


class WebSettings(BackendSettings):
    """Read from EVISION_* environment variables (prefix inherited from BackendSettings)."""

    host: str = Field(default="127.0.0.1", description="the address the web tier listens on")
    port: int = Field(default=8000, ge=0, le=65535, description="the port the web tier listens on")

    reply_queue_prefix: str = Field(
        default="evision-replies",
        pattern=r"^[A-Za-z0-9_-]{1,60}$",
        description="each web process creates its own reply queue <prefix>-<12 hex>, deletes it when "
        "it stops, and deletes others' left idle (their process crashed)",
    )
    reply_heartbeat_seconds: float = Field(
        default=60.0, gt=0, description="a web process marks its reply queue alive this often"
    )
    reply_orphan_seconds: float = Field(
        default=300.0,
        gt=0,
        description="a reply queue not marked alive for this long is an orphan, deleted by any web process",
    )
    web_processes: int = Field(
        default=1, ge=1, le=64, description="web processes serving one port (each with its reply queue)"
    )
    wait_seconds: float = Field(
        default=30.0, gt=0, description="how long a request waits for its result before answering 202"
    )
    max_upload_bytes: int = Field(default=10 * MIB, gt=0, description="largest accepted image")
    jobs_root: Path | None = Field(
        default=None,
        description="local backend: batch jobs may read folders under this one only (unset: no "
        "folder jobs); the aws backend reads s3://bucket/prefix sources",
    )
    job_monitor_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often an idle web process looks for job work (one depth read of the job "
        "queue; the job records are listed every 300 s); a job created here wakes it at once",
    )
    job_busy_monitor_seconds: float = Field(
        default=0.25,
        gt=0,
        description="how often a web process steps while a job it knows is unfinished: a job is done "
        "this long after its last shard at most",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="how long one webhook attempt may take (it runs on a thread of its own)",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="allow webhooks to loopback and private addresses (tests, on-premises receivers); "
        "link-local (the instance metadata address), multicast and reserved ones stay refused",
    )
    webhook_secret: str | None = Field(
        default=None,
        min_length=16,
        description="the key of the jobs' webhook signatures (HMAC-SHA256); unset (and no parameter): "
        "jobs with a webhook are refused",
    )
    webhook_secret_parameter: str | None = Field(
        default=None,
        description="cloud: the SSM SecureString holding the webhook key (context webhookSecretParameter)",
    )
    depth_metric_seconds: float = Field(
        default=0.0,
        ge=0,
        description="publish the request queue's depth for the cloud's fast alarms every this many "
        "seconds (0: off; the cloud's web tier sets 10)",
    )
    worker_group: str | None = Field(
        default=None, description="the workers' Auto Scaling group, raised from zero on an upload (cloud)"
    )
    scale_from_zero_to: int = Field(default=1, ge=1, description="workers an activation from zero asks for")
    activation_seconds: float = Field(
        default=10.0, gt=0, description="at most one activation attempt per this many seconds"
    )
    summary_seconds: float = Field(
        default=10.0, gt=0, description="while busy, one log line per this many seconds (uploads/s, queue)"
    )
    reply_poll_seconds: float = Field(
        default=5.0, gt=0, le=20, description="long-poll wait of the reply consumer (bounds shutdown time)"
    )
    header_seconds: float = Field(
        default=10.0, gt=0, le=300, description="a request's line and headers must arrive within this"
    )
    body_idle_seconds: float = Field(
        default=10.0, gt=0, le=300, description="an upload whose body stops this long is answered 408"
    )
    max_header_bytes: int = Field(
        default=32 * 1024, ge=1024, le=1024 * 1024, description="largest request line + headers (431)"
    )
    api_keys_file: Path | None = Field(
        default=None, description="API keys on: the valid keys, one per line (local; see api_keys_parameter)"
    )
    api_keys_parameter: str | None = Field(
        default=None,
        description="API keys on: the name of the backend secret holding them (cloud: an SSM SecureString)",
    )
    api_key_header: str = Field(
        default="X-API-Key", pattern=r"^[A-Za-z0-9-]{1,64}$", description="the header carrying the key"
    )
    rate_limit_per_second: float = Field(
        default=0.0, ge=0, description="requests per second per client and web process (0: no limit)"
    )
    rate_limit_burst: int = Field(default=20, ge=1, description="requests a client may send at once")
    trust_forwarded_for: bool = Field(
        default=False,
        description="a client's address is the last X-Forwarded-For entry (only behind a load balancer)",
    )
    max_connections: int = Field(
        default=0,
        ge=0,
        description="open connections per web process (0: from the file-descriptor limit, less a reserve)",
    )

    orphan_sweep_seconds: float = Field(
        default=60.0,
        gt=0,
        description="how often a web process looks for stored inputs whose request was never sent "
        "(they are sent again once the queues have been idle for this long)",
    )
    crash_after: CrashPoint | None = Field(
        default=None,
        description="testing only: the web process SIGKILLs itself right after this write of every "
        "upload (input, send, remember)",
    )

    @model_validator(mode="after")
    def _orphans_outlive_heartbeats(self) -> Self:
        if self.reply_orphan_seconds < 2 * self.reply_heartbeat_seconds:
            raise ValueError(
                "reply_orphan_seconds must be at least twice reply_heartbeat_seconds "
                "(else a live process's queue could be taken for an orphan)"
            )
        return self
