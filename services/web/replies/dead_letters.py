"""Every accepted upload ends: a dead-lettered request gets a `failed` result and its client an answer.

A request lands in the dead-letter queue when it used up its receives (`max_receives`): its
workers died holding it, or it crashed or hung the classifier every time. Left there, its result
would stay "pending" for ever and its client would wait in vain. The drainer, run by every web
process (locally and in the cloud alike; receives are exclusive, so several drainers share the
queue safely), takes each dead letter and:

1. writes the error result `failed` ("gave up after N attempts") to the output bucket, unless a
   result is already there (a worker that finished it after all: that result stands);
2. sends the reply to the queue named in the request, so a client still waiting gets a 502 with
   the reason at once (the reply queue may be gone with its web process: the result is stored);
3. deletes the dead letter.

A failure in any step leaves the dead letter for the next pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pydantic import ValidationError

from services.contract import ErrorKind, RequestMessage, Result
from services.ports.storage import BlobStore, Message, MessageQueue, QueueDepth
from services.results import error_result, reply_body, store_result, stored_result
from services.web.settings import WebSettings

log = logging.getLogger(__name__)

WAKE_UP = '{"evision": "wake up"}'
ReplyQueues = Callable[[str], MessageQueue]  # a reply queue by name (the backend's `queue`)


class DeadLetterDrainer:
    def __init__(
        self,
        *,
        dead_letters: MessageQueue,
        outputs: BlobStore,
        reply_queue: ReplyQueues,
        max_receives: int,
        poll_seconds: float,
    ) -> None:
        self._queue = dead_letters
        self._outputs = outputs
        self._reply_queue = reply_queue
        self._max_receives = max_receives
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.drained = 0

    @classmethod
    def for_settings(
        cls,
        settings: WebSettings,
        *,
        dead_letters: MessageQueue,
        outputs: BlobStore,
        reply_queue: ReplyQueues,
    ) -> DeadLetterDrainer:
        return cls(
            dead_letters=dead_letters,
            outputs=outputs,
            reply_queue=reply_queue,
            max_receives=settings.max_receives,
            poll_seconds=settings.reply_poll_seconds,
        )

    def depth(self) -> QueueDepth:
        return self._queue.depth()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dead-letter-drainer", daemon=True)
        self._thread.start()

    def __enter__(self) -> DeadLetterDrainer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop draining; returns once the current long poll has ended (woken by a message)."""
        self._stop.set()
        if self._thread is None or not self._thread.is_alive():
            return
        try:
            self._queue.send(WAKE_UP)
        except Exception:
            log.warning("dead-letter drainer: could not wake the long poll; waiting for it to end")
        self._thread.join(timeout=self._poll + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._queue.receive(10, self._poll)
            except Exception:
                log.exception("could not read the dead-letter queue %s; retrying", self._queue.name)
                self._stop.wait(self._poll)
                continue
            done = [m.receipt for m in messages if self.settle(m)]
            if done:
                try:
                    self._queue.delete_batch(done)
                except Exception:
                    log.exception("could not delete %d settled dead letters (settled again later)", len(done))

    def settle(self, message: Message) -> bool:
        """Give this dead letter its final answer; True once it may be deleted."""
        if message.body == WAKE_UP:  # a stopping drainer's (any drainer may take it)
            return True
        try:
            request = RequestMessage.model_validate_json(message.body)
        except ValidationError:
            log.error(
                "dead letter %s is not a request message; dropped: %.200r", message.message_id, message.body
            )
            return True
        try:
            result = self._existing(request.id) or self._failed(request)
        except Exception:
            log.exception("could not store the failed result of %s; kept for the next pass", request.id)
            return False
        try:
            self._reply_queue(request.reply_to).send(reply_body(result))
        except Exception as exc:  # its web process is gone; GET /v1/results/{id} still answers
            log.info("no reply sent for dead letter %s (%s): %s", request.id, request.reply_to, exc)
        self.drained += 1
        return True

    def _existing(self, request_id: str) -> Result | None:
        return stored_result(self._outputs, request_id)

    def _failed(self, request: RequestMessage) -> Result:
        reason = (
            f"gave up after {self._max_receives} attempts: every worker that took this image died, "
            "timed out or crashed on it"
        )
        result = error_result(request, ErrorKind.FAILED, reason)
        store_result(self._outputs, result)
        log.warning("request %s (%s) dead-lettered: stored a failed result", request.id, request.image)
        return result
