"""The job monitor on the local backend: one job it cannot advance (an output it may not write)
holds back no other job, and is retried at the next step; a source gone since the job was
accepted is a problem in the job's status until it is back."""

from __future__ import annotations

import time
from pathlib import Path

from services.adapters.registry import open_backend
from services.contract import new_request_id
from services.jobs.contract import JobRecord, JobSpec, ShardLine
from services.jobs.monitor import JobMonitor
from services.jobs.service import status
from services.jobs.store import JobStore
from services.ports import JobOutput
from tests.conftest import settings_for


def _finished_chunks(store: JobStore, source: Path, output: str | None) -> JobRecord:
    """A running job of one image whose one chunk has its shard: complete but for the monitor."""
    spec = JobSpec(source=str(source), output=output)
    record = JobRecord(id=new_request_id(), spec=spec, chunk_size=10, state="running", chunks_sent=1, total=1)
    store.put_record(record)
    store.put_shard(record.id, 0, [ShardLine(key="cat.jpg", label="Egyptian cat", score=0.9, model="m")])
    return record


def test_a_job_whose_output_fails_holds_back_no_other_and_is_retried(tmp_path: Path) -> None:
    settings = settings_for("local", tmp_path / "data")
    backend = open_backend(settings)
    backend.provision(settings)
    refused = str(tmp_path / "refused")
    refusing = [True]  # until the grant is mended

    def output(location: str) -> JobOutput:
        if location == refused and refusing[0]:
            raise PermissionError(f"may not write {location}")
        return backend.job_output(location)

    store = JobStore(backend.blobs(settings.output_bucket))
    blocked = _finished_chunks(store, tmp_path, refused)  # the older: listed first
    other = _finished_chunks(store, tmp_path, None)
    monitor = JobMonitor(
        store=store,
        queue=backend.queue(settings.job_queue),
        dead_letters=backend.queue(settings.job_dead_letter_queue),
        source=backend.job_source,
        output=output,
        webhook_secret=None,
        stale_seconds=30,
    )

    def state(job: JobRecord) -> str:
        record = store.record(job.id)
        assert record is not None
        return record.state

    try:
        monitor.step()
        assert (state(blocked), state(other)) == ("running", "done")
        refusing[0] = False
        monitor.step()
        assert state(blocked) == "done" and (Path(refused) / "_SUCCESS.json").is_file()
    finally:
        backend.close()


def test_a_source_gone_since_acceptance_is_a_problem_in_the_status_until_it_is_back(tmp_path: Path) -> None:
    settings = settings_for("local", tmp_path / "data")
    backend = open_backend(settings)
    backend.provision(settings)
    photos = tmp_path / "photos"
    store = JobStore(backend.blobs(settings.output_bucket))
    record = JobRecord(id=new_request_id(), spec=JobSpec(source=str(photos)), chunk_size=10)
    store.put_record(record)  # accepted while the folder was there; it is gone now
    monitor = JobMonitor(
        store=store,
        queue=backend.queue(settings.job_queue),
        dead_letters=backend.queue(settings.job_dead_letter_queue),
        source=backend.job_source,
        output=backend.job_output,
        webhook_secret=None,
        stale_seconds=0,  # resume planning at every step
    )

    def current() -> JobRecord:
        deadline = time.monotonic() + 60  # a guard only: the planning thread ends at once
        while monitor.planning and time.monotonic() < deadline:
            time.sleep(0.01)
        found = store.record(record.id)
        assert found is not None
        return found

    try:
        monitor.start_planning(record)
        stuck = current()
        assert stuck.state == "planning" and stuck.problem is not None and str(photos) in stuck.problem
        assert status(store, stuck).problem == stuck.problem  # what GET /v1/jobs/{id} shows
        photos.mkdir()
        (photos / "cat.jpg").write_bytes(b"not decoded here")
        monitor.step()  # resumes the planning
        planned = current()
        assert (planned.state, planned.total, planned.problem) == ("running", 1, None)
    finally:
        backend.close()
