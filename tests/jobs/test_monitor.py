"""The job monitor on the local backend: one job it cannot advance (an output it may not write)
holds back no other job, and is retried at the next step; a source gone since the job was
accepted is a problem in the job's status until it is back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.adapters.registry import open_backend
from services.contract import new_request_id
from services.jobs.contract import JobRecord, JobSpec, ShardLine
from services.jobs.monitor import JobMonitor
from services.jobs.progress import status
from services.jobs.store import JobStore
from services.ports.backend import Backend
from services.ports.job_locations import JobOutput, OutputUnwritableError
from services.settings import BackendSettings
from tests.fixtures import settings_for


@dataclass
class Local:
    settings: BackendSettings
    backend: Backend
    store: JobStore

    def monitor(
        self, *, output: Callable[[str], JobOutput] | None = None, stale_seconds: float = 30
    ) -> JobMonitor:
        return JobMonitor(
            store=self.store,
            queue=self.backend.storage.queue(self.settings.job_queue),
            dead_letters=self.backend.storage.queue(self.settings.job_dead_letter_queue),
            source=self.backend.job_locations.source,
            output=output or self.backend.job_locations.output,
            webhook_secret=None,
            stale_seconds=stale_seconds,
            idle_seconds=0,  # every step a scan: the tests step by hand
        )


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    settings = settings_for("local", tmp_path / "data")
    backend = open_backend(settings)
    backend.storage.provision(settings)
    yield Local(settings, backend, JobStore(backend.storage.blobs(settings.output_bucket)))
    backend.close()


def _finished_chunks(store: JobStore, source: Path, output: str | None) -> JobRecord:
    """A running job of one image whose one chunk has its shard: complete but for the monitor."""
    spec = JobSpec(source=str(source), output=output)
    record = JobRecord(id=new_request_id(), spec=spec, chunk_size=10, state="running", chunks_sent=1, total=1)
    store.put_record(record)
    store.put_shard(record.id, 0, [ShardLine(key="cat.jpg", label="Egyptian cat", score=0.9, model="m")])
    return record


def test_a_job_whose_output_fails_holds_back_no_other_and_is_retried(local: Local, tmp_path: Path) -> None:
    refused = str(tmp_path / "refused")
    refusing = [True]  # until the grant is mended

    def output(location: str) -> JobOutput:
        if location == refused and refusing[0]:
            raise OutputUnwritableError(f"cannot write {location}")
        return local.backend.job_locations.output(location)

    store = local.store
    blocked = _finished_chunks(store, tmp_path, refused)  # the older: listed first
    other = _finished_chunks(store, tmp_path, None)
    monitor = local.monitor(output=output)

    def state(job: JobRecord) -> str:
        record = store.record(job.id)
        assert record is not None
        return record.state

    monitor.step()
    assert (state(blocked), state(other)) == ("running", "done")
    refusing[0] = False
    monitor.step()
    assert state(blocked) == "done" and (Path(refused) / "_SUCCESS.json").is_file()


def test_a_source_gone_since_acceptance_is_a_problem_in_the_status_until_it_is_back(
    local: Local, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    store = local.store
    record = JobRecord(id=new_request_id(), spec=JobSpec(source=str(photos)), chunk_size=10)
    store.put_record(record)  # accepted while the folder was there; it is gone now
    monitor = local.monitor(stale_seconds=0)  # resume planning at every step

    def current() -> JobRecord:
        deadline = time.monotonic() + 60  # a guard only: the planning thread ends at once
        while monitor.planning and time.monotonic() < deadline:
            time.sleep(0.01)
        found = store.record(record.id)
        assert found is not None
        return found

    monitor.start_planning(record)
    stuck = current()
    assert stuck.state == "planning" and stuck.problem is not None and str(photos) in stuck.problem
    assert status(stuck).problem == stuck.problem  # what GET /v1/jobs/{id} shows
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(b"not decoded here")
    monitor.step()  # resumes the planning
    planned = current()
    assert (planned.state, planned.total, planned.problem) == ("running", 1, None)
