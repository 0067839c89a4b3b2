"""GroupSender: concurrent sends share batches, a lone send goes at once, errors reach their callers."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.web.replies.group_send import GroupSender


class SlowQueue:
    """A send_batch that takes `seconds`, like a network round trip, and records every batch."""

    def __init__(self, seconds: float, fail_on: str | None = None) -> None:
        self.seconds = seconds
        self.fail_on = fail_on
        self.batches: list[list[str]] = []
        self.threads: list[str] = []  # who sent each batch
        self.lock = threading.Lock()

    def send_batch(self, bodies: Sequence[str]) -> None:
        time.sleep(self.seconds)
        if self.fail_on in bodies:
            raise RuntimeError("rejected")
        with self.lock:
            self.batches.append(list(bodies))
            self.threads.append(threading.current_thread().name)


def test_a_lone_send_goes_at_once_in_a_batch_of_one() -> None:
    queue = SlowQueue(0.0)
    sender = GroupSender(queue.send_batch)
    sender.send("a")
    # At once: sent by the caller's own thread, before send() returns (no timer, no hand-off).
    assert queue.batches == [["a"]] and queue.threads == [threading.current_thread().name]


def test_concurrent_sends_share_batches_and_each_is_sent_exactly_once() -> None:
    queue = SlowQueue(0.01)
    sender = GroupSender(queue.send_batch)
    bodies = [f"m{i}" for i in range(200)]
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(sender.send, bodies))
    sent = [body for batch in queue.batches for body in batch]
    assert sorted(sent) == sorted(bodies)  # none lost, none twice
    assert all(len(batch) <= 10 for batch in queue.batches)
    assert len(queue.batches) <= 40, len(queue.batches)  # ~5 per batch at least (200 alone: 200)
    assert (sender.batches, sender.messages) == (len(queue.batches), 200)


def test_a_failed_batch_raises_in_every_caller_of_that_batch_and_no_other() -> None:
    queue = SlowQueue(0.02, fail_on="poison")
    sender = GroupSender(queue.send_batch)
    outcomes: dict[str, str] = {}

    def send(body: str) -> None:
        try:
            sender.send(body)
            outcomes[body] = "sent"
        except RuntimeError:
            outcomes[body] = "failed"

    threads = [threading.Thread(target=send, args=(b,)) for b in ["first", "poison", "x", "y"]]
    threads[0].start()
    time.sleep(0.005)  # "first" is in flight: the rest queue up behind it, in one batch
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert outcomes == {"first": "sent", "poison": "failed", "x": "failed", "y": "failed"}
    sender.send("after")  # the sender is not stuck after a failure
    assert queue.batches[-1] == ["after"]
    with pytest.raises(RuntimeError):
        GroupSender(SlowQueue(0, fail_on="z").send_batch).send("z")
