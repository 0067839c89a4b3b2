"""The web tier's side of running jobs: planning (resumed after a crash), written-off chunks,
progress, completion (the manifest) and the webhook. A `Periodic` step in every web process.

Every step is idempotent, so several web processes may run it: a planner resumed by two sends
the same chunks twice (the second shard replaces the first); a manifest written twice is the same
object; the webhook is at least once (its delivery id is the job id). Every change of a record
goes through `lifecycle` (one owner: a cancel wins, a final state stays).

No fixed period stands between a job's last shard and its end: while some job is unfinished the
monitor looks at the job queue's depth every `busy_seconds` (one cheap call) and scans the records
(listings: progress, completion) as soon as the queue has emptied (a worker deletes a chunk only
after its shard is written, so the last shard has landed), else every `idle_seconds` (the counts
GET /v1/jobs/{id} shows). Idle, it wakes at once when a job is created here. A webhook is
ONE attempt at a time, on a thread of its own: a receiver that hangs delays no other job, and the
next attempt's time is kept in the record.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager

from pydantic import ValidationError

from services.contract import ErrorKind, ResultError
from services.jobs import lifecycle
from services.jobs.contract import ChunkMessage, JobRecord, Manifest, ShardLine
from services.jobs.planner import plan
from services.jobs.progress import images_in
from services.jobs.store import JobStore
from services.jobs.webhook import attempt
from services.periodic import Periodic
from services.ports.job_locations import JobOutput, JobSource, SourceUnreadableError
from services.ports.storage import MessageQueue

log = logging.getLogger("services.jobs")
WEBHOOK_ATTEMPTS = 6
WEBHOOK_FIRST_BACKOFF = 1.0  # seconds before the second attempt; doubles after each failure
WEBHOOK_SENDERS = 8  # attempts in flight at once (each bounded by its timeout)


def webhook_backoff(attempts: int) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones; None: give up."""
    return None if attempts >= WEBHOOK_ATTEMPTS else WEBHOOK_FIRST_BACKOFF * 2 ** (attempts - 1)


class JobMonitor:
    def __init__(
        self,
        *,
        store: JobStore,
        queue: MessageQueue,
        dead_letters: MessageQueue,
        source: Callable[[str], JobSource],
        output: Callable[[str], JobOutput],
        webhook_secret: str | None,
        stale_seconds: float,
        allow_private_webhooks: bool = False,
        webhook_timeout: float = 10.0,
        idle_seconds: float = 5.0,
        busy_seconds: float = 0.25,
        idle_scan_seconds: float = 300.0,
    ) -> None:
        self._store = store
        self._queue = queue
        self._dead_letters = dead_letters
        self._source = source
        self._output = output
        self._secret = webhook_secret
        self.allow_private_webhooks = allow_private_webhooks
        self._webhook_timeout = webhook_timeout
        self._stale = stale_seconds  # a planning record untouched this long lost its planner
        self._idle_every = idle_seconds
        self._busy_every = busy_seconds
        self._planning: set[str] = set()  # jobs this process plans now
        # Idle, a step costs one depth read of the job queue; the job records are listed only
        # while some job is unfinished, or once per `idle_scan_seconds` (a job another process
        # started, whose chunks are all done already).
        self._idle_scan = idle_scan_seconds
        self._unfinished = True  # until the first scan says otherwise
        self._last_scan = float("-inf")
        self._outstanding = -1  # the job queue's chunks at the last look (-1: look again)
        self._final: set[str] = set()  # jobs seen settled: never read again
        self._deliveries: dict[str, Future[str | None]] = {}  # webhook attempts in flight
        self._lock = threading.Lock()
        self.stop_event = threading.Event()
        self.woken = threading.Event()  # set: step now (the Periodic waits on it)

    @property
    def signs_webhooks(self) -> bool:
        return self._secret is not None

    @property
    def planning(self) -> bool:
        """Whether a planning thread of this process runs now."""
        with self._lock:
            return bool(self._planning)

    def period(self) -> float:
        """Seconds to the next step: short while a job or a webhook is unfinished."""
        return self._busy_every if self._unfinished or self._deliveries else self._idle_every

    def start_planning(self, record: JobRecord) -> None:
        """Plan `record` in a thread of its own (a million keys take a while to list)."""
        self.wake()
        with self._lock:
            if record.id in self._planning:
                return
            self._planning.add(record.id)
        threading.Thread(target=self._plan, args=(record,), name=f"plan-{record.id[:8]}", daemon=True).start()

    def _plan(self, record: JobRecord) -> None:
        try:
            plan(record, self._source(record.spec.source), self._queue, self._store, self.stop_event)
            self._outstanding = -1  # its chunks may all be done before the next look: scan then
            self.woken.set()
        except SourceUnreadableError as exc:  # gone since it was accepted: say so
            log.error("planning job %s cannot go on: %s; retried every %g s", record.id, exc, self._stale)
            lifecycle.problem(self._store, record.id, str(exc))
        except Exception:
            log.exception("planning job %s failed; the monitor resumes it", record.id)
        finally:
            with self._lock:
                self._planning.discard(record.id)

    @contextmanager
    def running(self) -> Iterator[JobMonitor]:
        """Step every period in a thread; leaving stops planning first, then the steps."""
        with Periodic(self.step, every=self.period, name="job-monitor", woken=self.woken):
            try:
                yield self
            finally:
                self.stop_event.set()

    def wake(self) -> None:
        """A job was just created here: look at the records now, and often until it ends."""
        self._unfinished = True
        self.woken.set()

    def step(self) -> None:
        self._collect_deliveries()
        now = time.monotonic()
        outstanding = self._queue.depth().outstanding
        due = self._scan_due(now, outstanding)
        self._outstanding = outstanding
        if not due:
            return
        self._last_scan = now
        self._write_off_dead_chunks()
        unfinished = False
        for job in [j for j in self._store.job_ids() if j not in self._final]:
            record = self._store.record(job)
            if record is None or record.settled:
                self._final.add(job)
                continue
            try:
                record = self._advance(record) or record
            except Exception:  # e.g. an output it may not write: the others go on, it is retried
                log.exception("job %s: could not advance it; retried at the next step", job)
            if record.settled:  # finished by this step: nothing to look at any more
                self._final.add(job)
            else:
                unfinished = True
        self._unfinished = unfinished

    def _scan_due(self, now: float, outstanding: int) -> bool:
        """Whether to list and read the job records now (the costly part of a step)."""
        if outstanding == 0 and self._outstanding != 0:
            return True  # the chunks just ran out: a job may be complete
        since = now - self._last_scan
        if self._unfinished or self._deliveries:
            return since >= self._idle_every  # progress, webhooks due, resumed planning
        # Idle: chunks of a job another process started, or the rare look at every record.
        return outstanding > 0 or since >= self._idle_scan

    def _advance(self, record: JobRecord) -> JobRecord | None:
        """One step of the job; its record as it stands after it (None: unchanged)."""
        if record.state == "planning" and time.time() - record.updated_at > self._stale:
            log.info("job %s: resuming its planning from chunk %d", record.id, record.chunks_sent)
            self.start_planning(record)
        elif record.state == "running":
            return self._progress_or_finish(record)
        elif record.state == "done":
            return self._notify(record)
        return None

    def _progress_or_finish(self, record: JobRecord) -> JobRecord | None:
        """The counts in the record as shards land (progress reads nothing else); the manifest
        and `done` once every chunk has its shard."""
        assert record.total is not None
        shards = self._store.shard_indices(record.id)
        if len(shards) < record.chunks_sent:
            done = images_in(record, shards)
            if done != record.images_done:  # the failures are listed only when shards landed
                failed = self._store.failed_count(record.id)
                return lifecycle.progress(self._store, record.id, done=done, failed=failed)
            return None
        failed = self._store.failed_count(record.id)
        manifest = Manifest(
            job=record.id,
            source=record.spec.source,
            total=record.total,
            ok=record.total - failed,
            failed=failed,
            shards=len(shards),
            finished_at=time.time(),
        )
        if record.spec.output is not None:  # the parts first, the manifest last: _SUCCESS means whole
            output = self._output(record.spec.output)
            for index in sorted(shards):
                output.write(f"part-{index:08d}.jsonl", self._store.shard(record.id, index))
            output.write("_SUCCESS.json", manifest.model_dump_json(indent=2).encode())
        self._store.put_manifest(manifest)
        done_record = lifecycle.finished(self._store, record.id, manifest)
        if done_record is not None and done_record.state == "done":
            log.info("job %s done: %d images, %d failed", record.id, record.total, failed)
            return self._notify(done_record)
        return done_record

    def _notify(self, record: JobRecord) -> JobRecord | None:
        """Start ONE webhook attempt, if none is in flight and its time has come; the record as
        it stands then (None: unchanged)."""
        if record.webhook_delivered or record.webhook_gave_up:
            return None
        if record.spec.webhook is None or self._secret is None:
            return lifecycle.notified(self._store, record.id)
        if record.id in self._deliveries or time.time() < record.webhook_next_at:
            return None
        if len(self._deliveries) >= WEBHOOK_SENDERS:
            return None  # as many receivers are slow now: this one's turn comes at a later step
        manifest = record.manifest or self._store.manifest(record.id)
        body = json.dumps(
            {"type": "job.done", "job": record.id, "manifest": manifest.model_dump() if manifest else None}
        ).encode()
        url, secret, outcome = str(record.spec.webhook), self._secret, Future[str | None]()

        def send() -> None:
            try:
                outcome.set_result(
                    attempt(
                        url,
                        body,
                        secret=secret,
                        delivery=record.id,
                        allow_private=self.allow_private_webhooks,
                        timeout=self._webhook_timeout,
                    )
                )
            except Exception as exc:
                outcome.set_exception(exc)

        # A daemon thread of its own: a receiver that hangs holds nothing else, not even the exit.
        threading.Thread(target=send, name=f"webhook-{record.id[:8]}", daemon=True).start()
        self._deliveries[record.id] = outcome
        return None

    def _collect_deliveries(self) -> None:
        """The outcome of every attempt that has ended, into its job's record."""
        for job, future in list(self._deliveries.items()):
            if not future.done():
                continue
            del self._deliveries[job]
            try:
                why = future.result()
            except Exception as exc:  # a bug, not the receiver: counted as a failed attempt
                why = f"{type(exc).__name__}: {exc}"
            if why is None:
                lifecycle.notified(self._store, job)
                continue
            record = lifecycle.webhook_failed(self._store, job, backoff=webhook_backoff)
            if record is not None and record.webhook_gave_up:
                log.error(
                    "job %s: webhook given up after %d attempts (%s)", job, record.webhook_attempts, why
                )

    def _write_off_dead_chunks(self) -> None:
        """A chunk dead-lettered (it failed every receive): its images get a failed line each."""
        for message in self._dead_letters.receive(10, 0):
            try:
                chunk = ChunkMessage.model_validate_json(message.body)
            except ValidationError:
                self._dead_letters.delete_batch([message.receipt])
                continue
            reason = f"the chunk failed on every one of its receives ({message.receive_count})"
            error = ResultError(kind=ErrorKind.FAILED, reason=reason)
            if not self._store.has_shard(chunk.job, chunk.index):  # one look, not the whole job's list
                self._store.put_shard(
                    chunk.job, chunk.index, [ShardLine(key=k, error=error) for k in chunk.keys]
                )
                log.error("job %s chunk %d written off: %s", chunk.job, chunk.index, reason)
            self._dead_letters.delete_batch([message.receipt])
