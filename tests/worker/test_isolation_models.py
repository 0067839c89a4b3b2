"""Redelivered messages (an upload's request, a batch job's chunk) are classified alone in the
isolation helper by the model they name: the default, or a registered one the helper loads from
the worker's downloaded folder, at the precision they pin (real model, local backend)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from model import MODEL_DIR, load_metadata
from services.adapters.registry import open_backend
from services.contract import Precision, RequestMessage, new_request_id
from services.jobs.contract import ChunkMessage, JobRecord, JobSpec, ShardLine
from services.jobs.store import JobStore
from services.models.registration import register
from services.ports.backend import Backend
from services.worker.classifier import load_classifier
from services.worker.pipeline import WorkerPorts
from services.worker.runner import Worker
from services.worker.settings import WorkerSettings
from tests.fixtures import GOLDEN, golden_bytes, renamed_model, settings_for

DEFAULT = load_metadata(MODEL_DIR / "metadata.json").short_name
OTHER = f"lite0-other@{DEFAULT.split('@')[1]}"


@dataclass
class Setup:
    settings: WorkerSettings
    backend: Backend


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    settings = WorkerSettings.model_validate(settings_for("local", tmp_path / "data").model_dump())
    backend = open_backend(settings)
    backend.storage.provision(settings, reply_queues=["replies"])
    entry, report = register(renamed_model(tmp_path / "models", "lite0-other"), backend.models)
    assert entry is not None, report.failures
    yield Setup(settings, backend)
    backend.close()


def test_redelivered_requests_are_classified_alone_by_the_model_they_name(setup: Setup) -> None:
    settings, backend = setup.settings, setup.backend
    requests, inputs = (
        backend.storage.queue(settings.request_queue),
        backend.storage.blobs(settings.input_bucket),
    )
    named: dict[str, tuple[str, str | None]] = {}  # id -> (image, model)
    for image, model in [("cat.jpg", OTHER), ("coffee.jpg", None), ("rocket.jpg", OTHER)]:
        request_id = new_request_id()
        inputs.put(request_id, golden_bytes(image))
        message = RequestMessage(id=request_id, image=image, reply_to="replies", model=model)
        requests.send(message.model_dump_json())
        named[request_id] = (image, model)
    first = requests.receive(10, wait_seconds=0)
    requests.extend_visibility([m.receipt for m in first], 0)  # as after a worker's crash
    again = requests.receive(10, wait_seconds=0)
    assert len(again) == 3 and {m.receive_count for m in again} == {2}
    worker = Worker(settings=settings, ports=WorkerPorts.of(backend, settings, load_classifier()))
    try:
        items = worker.process(again)
    finally:
        worker.close()
    assert len(items) == 3
    for item in items:
        assert item.result is not None and item.request is not None
        image, model = named[item.request.id]
        assert "isolated" in item.timings and "infer" not in item.timings  # alone, not in the batch
        assert item.result.model.startswith(f"{model or DEFAULT} "), item.result.model  # and the engine
        assert item.result.label in GOLDEN[image]


def test_a_redelivered_chunk_is_classified_image_by_image_by_the_model_it_names(
    setup: Setup, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings, backend = setup.settings, setup.backend
    folder = tmp_path / "photos"
    folder.mkdir()
    for image in GOLDEN:
        (folder / image).write_bytes(golden_bytes(image))
    store = JobStore(backend.storage.blobs(settings.output_bucket))
    record = JobRecord(id=new_request_id(), spec=JobSpec(source=str(folder)), chunk_size=10, state="running")
    store.put_record(record)
    jobs = backend.storage.queue(settings.job_queue)
    chunk = ChunkMessage(job=record.id, index=0, source=str(folder), keys=sorted(GOLDEN), model=OTHER)
    jobs.send(chunk.model_dump_json())
    jobs.extend_visibility([m.receipt for m in jobs.receive(1, wait_seconds=0)], 0)  # a crash
    [again] = jobs.receive(1, wait_seconds=0)
    assert again.receive_count == 2
    worker = Worker(settings=settings, ports=WorkerPorts.of(backend, settings, load_classifier()))
    try:
        assert worker.chunks is not None
        worker.chunks.process(again)
    finally:
        worker.close()
    lines = [ShardLine.model_validate_json(line) for line in store.shard(record.id, 0).splitlines()]
    assert [line.key for line in lines] == sorted(GOLDEN)
    for line in lines:
        assert line.model.startswith(f"{OTHER} ") and line.label in GOLDEN[line.key], line
    assert jobs.depth().outstanding == 0  # deleted once its shard was written
    assert "its images one by one in isolation" in caplog.text


def test_a_redelivered_request_that_pins_fp32_is_classified_alone_on_fp32(setup: Setup) -> None:
    settings = setup.settings.model_copy(update={"engine": "onnxruntime-int8"})  # the worker's choice
    backend = setup.backend
    storage = backend.storage
    requests, inputs = storage.queue(settings.request_queue), storage.blobs(settings.input_bucket)
    asked: dict[str, tuple[str, str | None, Precision]] = {}  # id -> (image, model, precision)
    wanted: list[tuple[str, str | None, Precision]] = [
        ("cat.jpg", OTHER, "fp32"),
        ("coffee.jpg", None, "fp32"),
        ("rocket.jpg", None, "auto"),
    ]
    for image, model, precision in wanted:
        request_id = new_request_id()
        inputs.put(request_id, golden_bytes(image))
        message = RequestMessage(
            id=request_id, image=image, reply_to="replies", model=model, precision=precision
        )
        requests.send(message.model_dump_json())
        asked[request_id] = (image, model, precision)
    requests.extend_visibility([m.receipt for m in requests.receive(10, wait_seconds=0)], 0)  # a crash
    again = requests.receive(10, wait_seconds=0)
    assert len(again) == 3 and {m.receive_count for m in again} == {2}
    classifier = load_classifier(engine=settings.engine)
    worker = Worker(settings=settings, ports=WorkerPorts.of(backend, settings, classifier))
    try:
        items = worker.process(again)
    finally:
        worker.close()
    for item in items:
        assert item.result is not None and item.request is not None
        image, model, precision = asked[item.request.id]
        engine = "onnxruntime-fp32" if precision == "fp32" else "onnxruntime-int8"
        assert "isolated" in item.timings
        assert item.result.model == f"{model or DEFAULT} {engine}", item.result.model
        assert item.result.label in GOLDEN[image]
