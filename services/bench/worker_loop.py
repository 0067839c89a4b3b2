"""(b) The worker loop alone: request queue -> result, no HTTP.

The real worker processes (`evision worker`, as many as `evision up` starts) run against a fresh
local backend. Images are put in the input bucket before the clock starts (that is the web
tier's share); the clock runs from sending the request messages to receiving the last reply.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.adapters.registry import open_backend
from services.bench.cpu import CpuMeter
from services.bench.measurement import Measurement
from services.bench.processes import BenchError, Processes, child_environment, evision
from services.contract import ReplyMessage, RequestMessage, Result, new_request_id
from services.loadgen.expectations import Expectations
from services.loadgen.images import UploadImage
from services.ports.storage import BlobStore, MessageQueue
from services.worker.settings import WorkerSettings

REPLY_QUEUE = "evision-bench-replies"


@dataclass(frozen=True, slots=True)
class _Submitted:
    ids: dict[str, UploadImage]
    bodies: list[str]


def _stage(inputs: BlobStore, images: Sequence[UploadImage], count: int, offset: int) -> _Submitted:
    ids: dict[str, UploadImage] = {}
    bodies = []
    for i in range(count):
        image = images[(offset + i) % len(images)]
        request_id = new_request_id()
        inputs.put(request_id, image.data, content_type=image.content_type)
        ids[request_id] = image
        bodies.append(RequestMessage(id=request_id, image=image.name, reply_to=REPLY_QUEUE).model_dump_json())
    return _Submitted(ids, bodies)


def _collect(
    replies: MessageQueue, expected_ids: set[str], processes: Processes, timeout: float
) -> dict[str, Result]:
    """Receive replies until every id has one; returns results by id."""
    results: dict[str, Result] = {}
    deadline = time.monotonic() + timeout
    while len(results) < len(expected_ids):
        if time.monotonic() > deadline:
            missing = len(expected_ids) - len(results)
            raise BenchError(f"{missing} of {len(expected_ids)} replies missing after {timeout:.0f} s")
        messages = replies.receive(max_messages=10, wait_seconds=1.0)
        if not messages:
            processes.check_alive()
            continue
        for message in messages:
            reply = ReplyMessage.model_validate_json(message.body)
            if reply.id in expected_ids:
                results[reply.id] = reply.result
        replies.delete_batch([m.receipt for m in messages])
    return results


def measure_worker_loop(
    images: Sequence[UploadImage],
    expectations: Expectations | None,
    *,
    count: int,
    warmup: int,
    workers: int,
    work_dir: Path,
    timeout: float = 300.0,
    reference: Callable[[], float] | None = None,
    engine: str = "onnxruntime",
) -> Measurement:
    """Images/s of the worker processes alone; `reference` (bare images/s) runs just before and after."""
    settings = WorkerSettings.from_values(data_dir=work_dir / "data", engine=engine)  # backend: local
    backend = open_backend(settings)
    try:
        backend.storage.provision(settings, reply_queues=[REPLY_QUEUE])
        inputs = backend.storage.blobs(settings.input_bucket)
        requests = backend.storage.queue(settings.request_queue)
        replies = backend.storage.queue(REPLY_QUEUE)
        env = child_environment(settings)
        commands = [evision("worker", "--exit-with-parent")] * workers
        with Processes(commands, env=env, log_dir=work_dir / "logs", name="worker") as processes:
            warm = _stage(inputs, images, warmup, 0)
            requests.send_batch(warm.bodies)
            _collect(replies, set(warm.ids), processes, timeout)

            batch = _stage(inputs, images, count, warmup)
            references = [reference()] if reference else []
            meter = CpuMeter([p.pid for p in processes.processes])
            meter.start()
            started = time.perf_counter()
            requests.send_batch(batch.bodies)
            results = _collect(replies, set(batch.ids), processes, timeout)
            seconds = time.perf_counter() - started
            meter.stop()
            if reference:
                references.append(reference())
    finally:
        backend.close()
    measurement = _measurement(batch.ids, results, expectations, seconds, workers)
    measurement.notes["cpu_ms_per_image"] = meter.ms_per_image(measurement.images)
    if references:
        measurement.notes["bare_images_per_s_adjacent"] = round(statistics.fmean(references), 2)
    return measurement


def _measurement(
    ids: dict[str, UploadImage],
    results: dict[str, Result],
    expectations: Expectations | None,
    seconds: float,
    workers: int,
) -> Measurement:
    errors: dict[str, int] = {}
    checked = correct = 0
    for request_id, result in results.items():
        if result.error is not None:
            errors[str(result.error.kind)] = errors.get(str(result.error.kind), 0) + 1
            continue
        expected = expectations.expected(ids[request_id].name) if expectations else None
        if expected is not None:
            checked += 1
            correct += result.label == expected
    if checked > correct:
        errors["wrong_label"] = checked - correct
    # Mean per-image worker stage timings (ms): where the loop spends its time.
    stages = sorted({k for r in results.values() for k in r.timings if k not in ("queue", "total")})
    stage_ms = {
        k: round(statistics.fmean(r.timings.get(k, 0.0) for r in results.values()), 2) for k in stages
    }
    return Measurement(
        name="worker loop",
        images=sum(1 for r in results.values() if r.error is None),
        seconds=seconds,
        errors=errors,
        checked=checked,
        correct=correct,
        notes={"workers": workers, "worker_stage_ms": stage_ms},
    )
