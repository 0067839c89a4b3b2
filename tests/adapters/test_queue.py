"""The message queue contract, run against both adapters (local SQLite and SQS on moto)."""

from __future__ import annotations

import threading
import time

import pytest

from services.adapters.errors import ResourceNotFoundError
from services.ports.backend import Backend
from services.ports.storage import Message, MessageQueue, QueueDepth
from services.settings import BackendSettings


@pytest.fixture
def queue(backend: Backend, backend_settings: BackendSettings) -> MessageQueue:
    return backend.storage.queue(backend_settings.request_queue)


def receive_all(queue: MessageQueue, count: int, **kwargs: float) -> list[Message]:
    received: list[Message] = []
    deadline = time.monotonic() + 10
    while len(received) < count and time.monotonic() < deadline:
        received += queue.receive(10, wait_seconds=1, **kwargs)
    return received


def test_send_receive_delete(queue: MessageQueue):
    assert isinstance(queue, MessageQueue)
    message_id = queue.send('{"id": "abc"}')
    [message] = queue.receive(10, wait_seconds=1)
    assert (message.message_id, message.body, message.receive_count) == (message_id, '{"id": "abc"}', 1)
    assert queue.depth() == QueueDepth(visible=0, in_flight=1)
    queue.delete_batch([message.receipt])
    assert queue.depth() == QueueDepth(visible=0, in_flight=0)
    assert queue.receive(10, wait_seconds=0) == []


def test_batches_larger_than_ten(queue: MessageQueue):
    bodies = [f"m{i}" for i in range(23)]
    queue.send_batch(bodies)
    assert queue.depth().visible == 23
    received = receive_all(queue, 23)
    assert sorted(m.body for m in received) == sorted(bodies)
    assert all(len(batch) <= 10 for batch in [received[i : i + 10] for i in range(0, 23, 10)])
    queue.delete_batch([m.receipt for m in received])
    assert queue.depth().outstanding == 0


def test_receive_never_returns_more_than_asked(queue: MessageQueue):
    queue.send_batch(["a", "b", "c"])
    assert len(queue.receive(2, wait_seconds=1)) <= 2


def test_depth_counts_visible_and_in_flight(queue: MessageQueue):
    queue.send_batch(["1", "2", "3", "4", "5"])
    taken = receive_all(queue, 2)
    while len(taken) > 2:  # SQS may hand out more than asked over several calls: give back extra
        queue.extend_visibility([taken.pop().receipt], 0)
    assert queue.depth() == QueueDepth(visible=3, in_flight=2)


def test_long_poll_returns_as_soon_as_a_message_arrives(queue: MessageQueue):
    def send_later() -> None:
        time.sleep(0.3)
        queue.send("late")

    sender = threading.Thread(target=send_later)
    started = time.monotonic()
    sender.start()
    messages = queue.receive(10, wait_seconds=10)
    elapsed = time.monotonic() - started
    sender.join()
    assert [m.body for m in messages] == ["late"]
    assert 0.25 < elapsed < 3


def test_long_poll_waits_when_empty(queue: MessageQueue):
    started = time.monotonic()
    assert queue.receive(10, wait_seconds=1) == []
    assert time.monotonic() - started >= 0.9


def test_expired_visibility_redelivers_with_higher_receive_count(queue: MessageQueue):
    queue.send("again")
    [first] = queue.receive(1, wait_seconds=1, visibility_timeout=1)
    assert queue.receive(1, wait_seconds=0) == []  # invisible while in flight
    [second] = queue.receive(1, wait_seconds=5)  # long poll spans the expiry
    assert (second.body, second.receive_count) == ("again", 2)
    assert second.receipt != first.receipt
    queue.delete_batch([second.receipt])
    assert queue.depth().outstanding == 0


def test_extend_visibility_keeps_then_releases(queue: MessageQueue):
    queue.send("work")
    [message] = queue.receive(1, wait_seconds=1, visibility_timeout=1)
    queue.extend_visibility([message.receipt], 30)
    time.sleep(1.3)
    assert queue.receive(1, wait_seconds=0) == []
    assert queue.depth() == QueueDepth(visible=0, in_flight=1)
    queue.extend_visibility([message.receipt], 0)  # give it back at once
    [again] = queue.receive(1, wait_seconds=2)
    assert (again.message_id, again.receive_count) == (message.message_id, 2)


def test_dead_letter_after_max_receives(backend: Backend, backend_settings: BackendSettings):
    queue = backend.storage.queue(backend_settings.request_queue)
    dead_letters = backend.storage.queue(backend_settings.dead_letter_queue)
    queue.send("poison")
    counts = []
    for _ in range(backend_settings.max_receives):
        [message] = queue.receive(1, wait_seconds=2)
        counts.append(message.receive_count)
        queue.extend_visibility([message.receipt], 0)  # "failed": back to the queue
    assert counts == list(range(1, backend_settings.max_receives + 1))
    assert queue.receive(1, wait_seconds=1) == []  # the next receive moves it instead
    assert queue.depth().outstanding == 0
    [dead] = dead_letters.receive(1, wait_seconds=2)
    assert dead.body == "poison"


def test_unknown_queue_is_an_error(backend: Backend):
    with pytest.raises(ResourceNotFoundError):
        backend.storage.queue("never-created-queue")


def test_ensure_is_idempotent_and_creates_reply_queues(backend: Backend, backend_settings: BackendSettings):
    backend.storage.provision(backend_settings, reply_queues=["replies-a"])
    backend.storage.provision(backend_settings, reply_queues=["replies-a"])
    replies = backend.storage.queue("replies-a")
    replies.send("done")
    assert [m.body for m in replies.receive(10, wait_seconds=1)] == ["done"]


def test_local_stale_receipt_does_not_delete_redelivered_message(local_backend: Backend):
    queue = local_backend.storage.queue(local_backend.settings.request_queue)
    queue.send("slow")
    [first] = queue.receive(1, wait_seconds=0, visibility_timeout=0)
    [second] = queue.receive(1, wait_seconds=0)
    queue.delete_batch([first.receipt])  # a slow worker finishing late
    assert queue.depth() == QueueDepth(visible=0, in_flight=1)
    queue.delete_batch([second.receipt])
    assert queue.depth().outstanding == 0
