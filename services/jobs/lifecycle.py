"""The job record's one owner: every change of a job's state is one of these functions.

Each re-reads the record, changes it only from the states it is meant for (never out of a final
one: `done` and `cancelled` stay), and writes it back. The route, the planner and the monitor
change a record through nothing else.

A cancel wins at every instant, without a conditional write: `cancel` writes a marker
(`jobcancel-<id>`, never removed) BEFORE the cancelled record, and every other transition looks
for the marker AFTER its own write, writing the cancelled record again if it finds it. Whatever
the interleaving, the last write is a cancelled record: either the other writer's look came after
the marker (it rewrites cancelled), or its write came before the marker, hence before the cancel's
own record write. A reader may see the other write for the instant between the two.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from services.jobs.contract import FINAL_STATES, JobRecord, JobState, Manifest
from services.jobs.store import JobStore


def accept(store: JobStore, record: JobRecord) -> JobRecord:
    """A new job: its first record (planning)."""
    store.put_record(record)
    return record


def advance_plan(store: JobStore, job: str, *, cursor: str, chunks_sent: int) -> JobRecord | None:
    """Planning got this far (chunks up to `chunks_sent` sent, the last key `cursor`)."""
    return _change(store, job, ("planning",), cursor=cursor, chunks_sent=chunks_sent, problem=None)


def planned(store: JobStore, job: str, *, total: int, chunks_sent: int) -> JobRecord | None:
    """The whole source is planned: running, `total` images in `chunks_sent` chunks."""
    return _change(
        store, job, ("planning",), state="running", total=total, chunks_sent=chunks_sent, problem=None
    )


def problem(store: JobStore, job: str, reason: str) -> JobRecord | None:
    """Planning cannot go on for now (it is retried): say why."""
    return _change(store, job, ("planning",), problem=reason)


def progress(store: JobStore, job: str, *, done: int, failed: int) -> JobRecord | None:
    """Images with a line so far, and how many of them failed."""
    return _change(store, job, ("running",), images_done=done, images_failed=failed)


def finished(store: JobStore, job: str, manifest: Manifest) -> JobRecord | None:
    """Every chunk has its shard and the manifest is written: done."""
    return _change(
        store,
        job,
        ("running",),
        state="done",
        finished_at=manifest.finished_at,
        images_done=manifest.total,
        images_failed=manifest.failed,
        manifest=manifest,
    )


def notified(store: JobStore, job: str) -> JobRecord | None:
    """The webhook was delivered (or there is none to deliver)."""
    return _change(store, job, ("done",), webhook_delivered=True)


def webhook_failed(store: JobStore, job: str, *, backoff: Callable[[int], float | None]) -> JobRecord | None:
    """One more attempt failed; the next one `backoff(attempts so far)` seconds from now (None:
    given up)."""
    latest = store.record(job)
    if latest is None:
        return None
    attempts = latest.webhook_attempts + 1
    wait = backoff(attempts)
    if wait is None:
        return _change(store, job, ("done",), webhook_attempts=attempts, webhook_gave_up=True)
    return _change(store, job, ("done",), webhook_attempts=attempts, webhook_next_at=time.time() + wait)


def cancel(store: JobStore, job: str) -> JobRecord | None:
    """No new chunk starts (what is done stays done); a final job stays as it is."""
    latest = store.record(job)
    if latest is None or latest.state in FINAL_STATES:
        return latest
    store.put_cancel_marker(job)  # first: every other writer looks for it after its own write
    latest = store.record(job) or latest  # what the others wrote meanwhile (counts, cursor)
    if latest.state == "cancelled":
        return latest
    cancelled = _cancelled(latest)
    store.put_record(cancelled)
    return cancelled


def _cancelled(record: JobRecord) -> JobRecord:
    now = time.time()
    return record.model_copy(update={"state": "cancelled", "finished_at": now, "updated_at": now})


def _change(store: JobStore, job: str, allowed: tuple[JobState, ...], **update: Any) -> JobRecord | None:
    """The record re-read, changed by `update` if its state is `allowed`, and written; the
    latest record as it stands (None: no such job)."""
    latest = store.record(job)
    if latest is None or latest.state not in allowed:
        return latest
    changed = latest.model_copy(update={**update, "updated_at": time.time()})
    store.put_record(changed)
    if store.cancel_requested(job):  # a cancel landed meanwhile: it wins (see the docstring)
        changed = _cancelled(changed)
        store.put_record(changed)
    return changed
