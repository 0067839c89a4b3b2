"""The job record's one owner (services/jobs/lifecycle.py) on the local store: a final state stays,
and a cancel that lands between another writer's read and its write still wins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.adapters.registry import open_backend
from services.contract import new_request_id
from services.jobs import lifecycle
from services.jobs.contract import JobRecord, JobSpec, Manifest
from services.jobs.store import JobStore
from services.ports.storage import BlobStore
from tests.fixtures import settings_for


@pytest.fixture
def outputs(tmp_path: Path) -> Iterator[BlobStore]:
    settings = settings_for("local", tmp_path / "data")
    backend = open_backend(settings)
    backend.storage.provision(settings)
    yield backend.storage.blobs(settings.output_bucket)
    backend.close()


@pytest.fixture
def store(outputs: BlobStore) -> JobStore:
    return JobStore(outputs)


class RacedStore(JobStore):
    """A store where a cancel lands between a writer's read of the record and its write."""

    def __init__(self, outputs: BlobStore) -> None:
        super().__init__(outputs)
        self.job = ""
        self.raced = False

    def put_record(self, record: JobRecord) -> None:
        if self.job and not self.raced and record.state != "cancelled":
            self.raced = True  # the writer read the record before this cancel, writes after it
            assert lifecycle.cancel(self, self.job) is not None
        super().put_record(record)


def _accepted(store: JobStore) -> str:
    record = JobRecord(id=new_request_id(), spec=JobSpec(source="/photos"), chunk_size=10)
    return lifecycle.accept(store, record).id


def _state(store: JobStore, job: str) -> str:
    record = store.record(job)
    assert record is not None
    return record.state


def test_no_transition_leaves_a_final_state(store: JobStore) -> None:
    job = _accepted(store)
    assert lifecycle.cancel(store, job) is not None and _state(store, job) == "cancelled"
    lifecycle.advance_plan(store, job, cursor="k", chunks_sent=3)
    lifecycle.planned(store, job, total=30, chunks_sent=3)
    lifecycle.problem(store, job, "gone")
    assert _state(store, job) == "cancelled"
    done = _accepted(store)
    lifecycle.planned(store, done, total=1, chunks_sent=1)
    manifest = Manifest(job=done, source="/photos", total=1, ok=1, failed=0, shards=1, finished_at=1.0)
    lifecycle.finished(store, done, manifest)
    lifecycle.progress(store, done, done=0, failed=0)
    lifecycle.cancel(store, done)  # too late: what is done stays done
    record = store.record(done)
    assert record is not None and record.state == "done" and record.images_done == 1


@pytest.mark.parametrize("writer", ["planner", "monitor"])
def test_a_cancel_between_a_writers_read_and_its_write_still_wins(outputs: BlobStore, writer: str) -> None:
    store = RacedStore(outputs)
    job = _accepted(store)
    if writer == "monitor":
        lifecycle.planned(store, job, total=30, chunks_sent=3)
    store.job = job  # from now on
    if writer == "planner":
        lifecycle.advance_plan(store, job, cursor="k", chunks_sent=5)
    else:
        lifecycle.progress(store, job, done=10, failed=0)
    assert store.raced and _state(store, job) == "cancelled"
