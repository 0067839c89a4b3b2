"""Creating a job: every check, then the record, in one function (the route only maps HTTP).

Everything that can be refused is refused before the job exists (JobRefusedError, a 422 with the
reason): a source the service may not read or list, an output it may not write (a claim file
written there at once), an unknown model, a webhook it cannot sign or may not call
(`webhook_target`), an Idempotency-Key used for another spec. A retry with the same key and the
same spec returns the first job (its planning resumed if its planner died).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from services.idempotency import IdempotencyConflictError, IdempotencyKeys
from services.jobs import lifecycle
from services.jobs.contract import JobRecord, JobSpec
from services.jobs.monitor import JobMonitor
from services.jobs.service import claim_output, new_job
from services.jobs.staging import upload_of, upload_prefix
from services.jobs.store import JobStore
from services.jobs.webhook_target import WebhookRefusedError, check
from services.models.errors import UnknownModelError
from services.ports.job_locations import (
    JobLocationError,
    JobLocations,
    OutputUnwritableError,
    SourceUnreadableError,
)


class JobRefusedError(ValueError):
    """The job cannot be accepted; the message says why (for the client)."""


def create_job(
    spec: JobSpec,
    idempotency_key: str | None,
    *,
    store: JobStore,
    keys: IdempotencyKeys,
    monitor: JobMonitor,
    locations: JobLocations,
    resolve_model: Callable[[str | None], str | None],
    jobs_root: Path | None,
    chunk_size: int,
    staged_location: Callable[[str], str] | None = None,
) -> JobRecord:
    """The accepted job's record (planning started), or JobRefusedError. Blocking.

    A source `upload:<id>` is what the client staged (`staging`): `staged_location` maps its
    prefix to a location the backend reads (None: this service stages nothing)."""
    try:
        if (upload := upload_of(spec.source)) is not None:
            if staged_location is None:
                raise JobRefusedError("this service stages no uploads (its store cannot)")
            location = staged_location(upload_prefix(upload))
        else:
            location = locations.check_source(spec.source, jobs_root)
        source = locations.source(location)
        next(iter(source.keys_after("")), None)  # one listing call: may it list it, now?
        output = None if spec.output is None else locations.check_output(spec.output, jobs_root)
        if output is not None:
            locations.output(output)  # this kind of location?
        model = resolve_model(spec.model)
    except (JobLocationError, ValueError, UnknownModelError, SourceUnreadableError) as exc:
        raise JobRefusedError(str(exc)) from None
    if spec.webhook is not None:
        if not monitor.signs_webhooks:
            raise JobRefusedError("this service signs no webhooks (no webhook secret set)")
        try:
            check(str(spec.webhook), allow_private=monitor.allow_private_webhooks)
        except WebhookRefusedError as exc:
            raise JobRefusedError(str(exc)) from None
    # A spec without a pinned precision dumps as before precisions were: a key remembered by an
    # older version still matches its spec.
    unpinned = {"precision"} if spec.precision == "auto" else None
    fingerprint = hashlib.sha256(spec.model_dump_json(exclude=unpinned).encode()).hexdigest()
    if idempotency_key is not None:
        try:
            remembered = keys.lookup(idempotency_key, fingerprint)
        except IdempotencyConflictError as exc:
            raise JobRefusedError(str(exc)) from None
        if remembered is not None and (existing := store.record(remembered.id)) is not None:
            if existing.state == "planning":
                monitor.start_planning(existing)  # resume, if its planner died
            return existing
    record = new_job(spec.model_copy(update={"model": model}), location, chunk_size, output)
    if output is not None:  # and one it may write? Found now, not when the job is done.
        try:
            claim_output(locations.output(output), record)
        except OutputUnwritableError as exc:
            raise JobRefusedError(str(exc)) from None
    lifecycle.accept(store, record)
    if idempotency_key is not None:
        keys.remember(idempotency_key, fingerprint, record.id)
    monitor.start_planning(record)
    return record
