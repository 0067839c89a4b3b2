"""Worker settings: the shared backend settings plus the loop's knobs (EVISION_* variables)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from services.ports.capacity import Placement
from services.settings import BackendSettings


class WorkerSettings(BackendSettings):
    batch_size: int = Field(default=10, ge=1, le=10, description="messages per receive (SQS max 10)")
    poll_seconds: float = Field(default=20.0, ge=0, le=20, description="long-poll wait of one receive")
    burst_poll_seconds: float = Field(default=1.0, ge=0, le=20, description="receive wait in burst mode")
    threads: int = Field(
        default_factory=lambda: min(32, os.cpu_count() or 1),
        ge=1,
        le=32,
        description="inference threads sharing one ONNX Runtime session (default: one per core)",
    )
    # Up to 4 images per call: each ONNX Runtime call has a fixed cost (bench-model, intra_op=1 x 2
    # callers on 2 vCPUs: batch 1 163, 2 178, 4 179, 8 171 images/s). A batch is split evenly
    # between the threads, so no thread idles at its end.
    infer_batch: int = Field(default=4, ge=1, le=64, description="most images per inference call")
    batches_in_flight: int = Field(
        default=2,
        ge=1,
        le=4,
        description="batches held at once: the next is fetched while one is classified (1: no overlap)",
    )
    io_threads: int = Field(default=10, ge=1, le=64, description="concurrent blob reads/writes (aws backend)")
    extend_after: float = Field(
        default=0.3,  # a 10-s lease is renewed every 3 s: two renewals may fail before it ends
        gt=0,
        lt=1,
        description="renew a batch's lease each time this fraction of the visibility timeout passes",
    )
    batch_deadline: float = Field(
        default=300.0,
        gt=0,
        le=43200,
        description="seconds a batch may take in all; past it, its unfinished messages are released "
        "(redelivery, then the dead-letter queue) and the worker restarts",
    )
    model_path: Path | None = Field(default=None, description="ONNX model; default: the bundled one")
    model_memory_mib: float = Field(
        default=1024.0,
        gt=0,
        description="estimated memory for registered models besides the default; past it the least "
        "recently used is dropped",
    )
    # auto by default: the fastest engine that agrees with fp32 on the golden images, measured at
    # the worker's start (model/engine_choice.py argues it for c7i's VNNI and AMX).
    engine: Literal["auto", "onnxruntime", "onnxruntime-int8", "openvino"] = Field(
        default="auto",
        description="inference engine; auto: the fastest of ONNX Runtime fp32, its int8 variant and "
        "OpenVINO bf16 (where installed and native) that agrees with fp32; onnxruntime pins fp32",
    )
    classifier: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="package.module:function returning the classifier (another model behind the "
        "port); default: the bundled model on `engine`",
    )
    isolate_redelivered: bool = Field(
        default=True,
        description="classify a redelivered message alone in a helper process, so an image that "
        "crashes or hangs the classifier uses up only its own receives",
    )
    metrics: bool = Field(
        default=False, description="publish batch and image metrics through the backend (cloud: CloudWatch)"
    )
    # A standby (`evision worker --standby`) bridges `standby_group` while it has no worker in
    # service: it asks every `standby_gate_seconds` and long-polls `standby_poll_seconds`, so it
    # takes its last batch at most the sum of the two after a worker of the group is in service.
    standby_group: str | None = Field(
        default=None, description="the worker group a standby bridges (aws: its Auto Scaling group)"
    )
    standby_gate_seconds: float = Field(
        default=5.0, gt=0, le=300, description="how often a standby asks the group's in-service count"
    )
    standby_poll_seconds: float = Field(
        default=10.0, ge=0, le=20, description="long-poll wait of a standby's receive"
    )
    # Where the worker runs (its user data names the group and the hook): `placement()`.
    asg_name: str | None = Field(default=None, description="the worker's Auto Scaling group, if any")
    instance_id: str | None = Field(default=None, description="default: from the metadata service (IMDSv2)")
    lifecycle_hook: str | None = Field(
        default=None, description="the group's launch lifecycle hook this worker completes"
    )
    imds_url: str = Field(default="http://169.254.169.254", description="the instance metadata service")

    def placement(self) -> Placement:
        return Placement(
            group=self.asg_name,
            instance_id=self.instance_id,
            launch_hook=self.lifecycle_hook,
            metadata_url=self.imds_url,
        )
