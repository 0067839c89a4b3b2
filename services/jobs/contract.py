"""A job's messages and objects: the spec a client gives, the record, a chunk, a shard line."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from services.contract import CONTRACT_VERSION, LabelScore, Precision, ResultError

JobState = Literal["planning", "running", "done", "cancelled"]
FINAL_STATES: tuple[JobState, ...] = ("done", "cancelled")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class JobSpec(_Frozen):
    """What a client asks for (POST /v1/jobs)."""

    source: str = Field(
        min_length=1,
        max_length=1024,
        description="s3://bucket/prefix (aws backend), or a folder under the service's jobs root (local)",
    )
    output: str | None = Field(
        default=None,
        max_length=1024,
        description="also copy the results there when the job ends (part-NNNNNNNN.jsonl files and "
        "_SUCCESS.json): s3://bucket/prefix (aws backend), or a folder under the jobs root (local)",
    )
    top_k: int = Field(default=5, ge=1, le=5, description="labels per image in the output")
    model: str | None = Field(
        default=None, max_length=200, description="name@version or name of a registered model"
    )
    precision: Precision = Field(
        default="auto",
        description="auto: the service's engine; fp32: the fp32 reference; int8: the model's int8 variant",
    )
    webhook: HttpUrl | None = Field(
        default=None, description="called once when the job ends, signed (Evision-Signature header)"
    )


class Manifest(_Frozen):
    """Written once every chunk has its shard: the job's `_SUCCESS`."""

    job: str
    source: str
    total: int
    ok: int
    failed: int
    shards: int
    finished_at: float


class JobRecord(_Frozen):
    """The job's own object: the spec, how far planning got, and the final state."""

    v: int = CONTRACT_VERSION
    id: str
    spec: JobSpec
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    state: JobState = "planning"
    chunk_size: int
    cursor: str = ""  # the last source key planned into a chunk message
    chunks_sent: int = 0
    total: int | None = None  # images, once planning has listed the whole source
    finished_at: float | None = None
    # Progress, kept by the monitor as shards land (GET /v1/jobs/{id} reads nothing else).
    images_done: int = 0
    images_failed: int = 0
    manifest: Manifest | None = None  # once done
    # The webhook: delivered (or none to deliver), or given up after its attempts; one attempt
    # per monitor step at most, the next one not before `webhook_next_at` (unix seconds).
    webhook_delivered: bool = False
    webhook_attempts: int = 0
    webhook_next_at: float = 0.0
    webhook_gave_up: bool = False
    # Why planning cannot go on (e.g. the source became unreadable); retried, cleared once it does.
    problem: str | None = None

    @property
    def settled(self) -> bool:
        """Final, and nothing left to do for it (the webhook delivered or given up)."""
        return self.state == "cancelled" or (
            self.state == "done" and (self.webhook_delivered or self.webhook_gave_up)
        )

    @property
    def planned_chunks(self) -> int | None:
        return None if self.total is None else self.chunks_sent


class ChunkMessage(_Frozen):
    """Up to `chunk_size` source keys for one worker, on the job queue (keys, never bytes)."""

    v: int = CONTRACT_VERSION
    kind: Literal["job_chunk"] = "job_chunk"
    job: str
    index: int = Field(ge=0)
    source: str
    keys: list[str] = Field(min_length=1)
    top_k: int = 5
    model: str | None = None
    precision: Precision = "auto"


class ShardLine(_Frozen):
    """One image's outcome, one JSON line in its chunk's shard."""

    key: str
    label: str | None = None
    score: float | None = None
    top: list[LabelScore] = Field(default_factory=list)
    model: str = ""
    error: ResultError | None = None
