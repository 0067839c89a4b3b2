"""The web tier's side of running jobs: planning (resumed after a crash), written-off chunks,
completion (the manifest) and the webhook. A `Periodic` step in every web process.

Every step is idempotent, so several web processes may run it: a planner resumed by two sends
the same chunks twice (the second shard replaces the first); a manifest written twice is the same
object; the webhook is at least once (its delivery id is the job id).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

from pydantic import ValidationError

from services.contract import ErrorKind, ResultError
from services.jobs.contract import FINAL_STATES, ChunkMessage, JobRecord, Manifest, ShardLine
from services.jobs.planner import plan
from services.jobs.store import JobStore
from services.jobs.webhook import deliver
from services.ports import JobOutput, JobSource, MessageQueue, SourceUnreadableError

log = logging.getLogger("services.jobs")


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
        idle_scan_seconds: float = 300.0,
    ) -> None:
        self._store = store
        self._queue = queue
        self._dead_letters = dead_letters
        self._source = source
        self._output = output
        self._secret = webhook_secret
        self._stale = stale_seconds  # a planning record untouched this long lost its planner
        self._planning: set[str] = set()  # jobs this process plans now
        # Idle, a step costs one depth read of the job queue; the job records are listed only
        # while some job is unfinished, or once per `idle_scan_seconds` (a job another process
        # started, whose chunks are all done already).
        self._idle_scan = idle_scan_seconds
        self._unfinished = True  # until the first scan says otherwise
        self._last_scan = float("-inf")
        self._final: set[str] = set()  # jobs seen finished and notified: never read again
        self._lock = threading.Lock()
        self.stop_event = threading.Event()

    @property
    def signs_webhooks(self) -> bool:
        return self._secret is not None

    @property
    def planning(self) -> bool:
        """Whether a planning thread of this process runs now."""
        with self._lock:
            return bool(self._planning)

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
        except SourceUnreadableError as exc:  # gone since it was accepted: say so
            log.error("planning job %s cannot go on: %s; retried every %g s", record.id, exc, self._stale)
            latest = self._store.record(record.id)
            if latest is not None and latest.state == "planning":
                self._store.put_record(
                    latest.model_copy(update={"problem": str(exc), "updated_at": time.time()})
                )
        except Exception:
            log.exception("planning job %s failed; the monitor resumes it", record.id)
        finally:
            with self._lock:
                self._planning.discard(record.id)

    def wake(self) -> None:
        """A job was just created here: look at the records at the next step."""
        self._unfinished = True

    def step(self) -> None:
        now = time.monotonic()
        quiet = not self._unfinished and now - self._last_scan < self._idle_scan
        if quiet and self._queue.depth().outstanding == 0:
            return  # no chunk waiting or in hand, and no job left unfinished at the last scan
        self._last_scan = now
        self._write_off_dead_chunks()
        unfinished = False
        for job in [j for j in self._store.job_ids() if j not in self._final]:
            record = self._store.record(job)
            if record is None or (record.state in FINAL_STATES and record.webhook_delivered):
                self._final.add(job)
                continue
            unfinished = True
            try:
                self._advance(record)
            except Exception:  # e.g. an output it may not write: the others go on, it is retried
                log.exception("job %s: could not advance it; retried at the next step", job)
        self._unfinished = unfinished

    def _advance(self, record: JobRecord) -> None:
        if record.state == "planning" and time.time() - record.updated_at > self._stale:
            log.info("job %s: resuming its planning from chunk %d", record.id, record.chunks_sent)
            self.start_planning(record)
        elif record.state == "running":
            self._finish_if_complete(record)
        elif record.state == "done" and not record.webhook_delivered:
            self._notify(record)

    def _finish_if_complete(self, record: JobRecord) -> None:
        assert record.total is not None
        shards = self._store.shard_indices(record.id)
        if len(shards) < record.chunks_sent:
            return
        failed = self._store.failed_count(record.id)
        now = time.time()
        manifest = Manifest(
            job=record.id,
            source=record.spec.source,
            total=record.total,
            ok=record.total - failed,
            failed=failed,
            shards=len(shards),
            finished_at=now,
        )
        if record.spec.output is not None:  # the parts first, the manifest last: _SUCCESS means whole
            output = self._output(record.spec.output)
            for index in sorted(shards):
                output.write(f"part-{index:08d}.jsonl", self._store.shard(record.id, index))
            output.write("_SUCCESS.json", manifest.model_dump_json(indent=2).encode())
        self._store.put_manifest(manifest)
        done = record.model_copy(update={"state": "done", "finished_at": now, "updated_at": now})
        self._store.put_record(done)
        log.info("job %s done: %d images, %d failed", record.id, record.total, failed)
        self._notify(done)

    def _notify(self, record: JobRecord) -> None:
        if record.spec.webhook is None or self._secret is None:
            if not record.webhook_delivered:
                self._store.put_record(record.model_copy(update={"webhook_delivered": True}))
            return
        manifest = self._store.manifest(record.id)
        body = json.dumps(
            {"type": "job.done", "job": record.id, "manifest": manifest.model_dump() if manifest else None}
        ).encode()
        if deliver(
            str(record.spec.webhook), body, secret=self._secret, delivery=record.id, stop=self.stop_event
        ):
            self._store.put_record(record.model_copy(update={"webhook_delivered": True}))

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
