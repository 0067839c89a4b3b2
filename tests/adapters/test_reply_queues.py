"""Per-process reply queues (create, mark alive, find idle, delete) and their keeper, on both backends."""

from __future__ import annotations

import time

import pytest

from services.adapters.errors import ResourceNotFoundError
from services.ports.backend import Backend
from services.ports.storage import ReplyQueues
from services.settings import BackendSettings
from services.web.replies.queue_keeper import ReplyQueueKeeper, new_name


def test_a_reply_queue_lives_until_deleted(backend: Backend):
    queues = backend.storage.reply_queues()
    assert isinstance(queues, ReplyQueues)
    name = new_name("rq-life")
    queue = queues.create(name)
    queue.send("done")
    assert [m.body for m in queue.receive(10, wait_seconds=1)] == ["done"]
    queues.delete(name)
    queues.delete(name)  # already gone: not an error
    with pytest.raises(ResourceNotFoundError):
        queue.send("too late")  # e.g. a worker replying to a stopped web process
    with pytest.raises(ResourceNotFoundError):
        backend.storage.queue(name)


def test_idle_finds_only_this_prefix_queues_not_marked_since(
    backend: Backend, backend_settings: BackendSettings
):
    queues = backend.storage.reply_queues()
    old, fresh, other = new_name("rq-idle"), new_name("rq-idle"), new_name("rq-idleness")
    for name in (old, other):
        queues.create(name)
    backend.storage.provision(backend_settings, reply_queues=["rq-idle-provisioned"])  # no mark: never idle
    time.sleep(1.5)  # SQS tags hold whole seconds
    queues.create(fresh)
    cut = time.time() - 0.05
    assert sorted(queues.idle("rq-idle", since=cut + 2)) == sorted([old, fresh])
    assert queues.idle("rq-idle", since=cut) == [old]
    queues.mark_alive(old)
    assert queues.idle("rq-idle", since=cut) == []


def test_a_crashed_process_queue_is_swept_by_a_live_one(backend: Backend):
    queues = backend.storage.reply_queues()
    crashed = ReplyQueueKeeper(queues, "rq-sweep", heartbeat_seconds=60, orphan_seconds=120)
    crashed.open()
    crashed._stopping.set()  # and never closed: its process died
    live = ReplyQueueKeeper(queues, "rq-sweep", heartbeat_seconds=1, orphan_seconds=2)
    live.open()
    assert live.sweep() == 0  # not idle long enough yet
    time.sleep(3.1)
    live.sweep()  # (its own heartbeat may have swept already)
    assert live.swept == 1  # its own queue is never taken, however stale its mark
    with pytest.raises(ResourceNotFoundError):
        backend.storage.queue(crashed.name)
    backend.storage.queue(live.name).send("still here")
    live.close()
    with pytest.raises(ResourceNotFoundError):
        backend.storage.queue(live.name)
