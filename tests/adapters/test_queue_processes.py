"""Several real processes on one queue: exclusive delivery, and nothing lost when one is killed."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from services.ports.backend import Backend
from services.ports.storage import Message
from services.settings import BackendSettings
from tests.fixtures import settings_environment

ROOT = Path(__file__).resolve().parents[2]


def child(settings: BackendSettings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.adapters.queue_child", *args],
        cwd=ROOT,
        env={**os.environ, **settings_environment(settings)},
        stdout=subprocess.PIPE,
        text=True,
    )


def test_concurrent_consumers_each_get_every_message_once(
    backend: Backend, backend_settings: BackendSettings
):
    # moto serves ~50-100 calls/s: keep its share small; the local queue gets a real crowd.
    total = 600 if backend.name == "local" else 40
    queue = backend.storage.queue(backend_settings.request_queue)
    consumers = [child(backend_settings, "consume", queue.name) for _ in range(3)]
    for consumer in consumers:
        assert consumer.stdout is not None and consumer.stdout.readline() == "ready\n"
    queue.send_batch([f"m{i}" for i in range(total)])
    outputs = [consumer.communicate(timeout=60)[0] for consumer in consumers]
    assert all(consumer.returncode == 0 for consumer in consumers)
    counts = collections.Counter(line for output in outputs for line in output.split())
    assert sorted(counts) == sorted(f"m{i}" for i in range(total))
    if backend.name == "local":  # our queue's own guarantee: exactly once while no lease expires
        assert set(counts.values()) == {1}, "a message was delivered twice"
    # SQS standard queues deliver at least once and "occasionally more than one copy" (SQS
    # Developer Guide, "At-least-once delivery", read 2026-12-04); moto 5.2.5's ReceiveMessage
    # takes no lock, so concurrent receives can both take one message (seen once in CI). The
    # workers are built for it (a result is written whole, by key); here: none lost.
    if backend.name == "local":
        assert sum(1 for output in outputs if output.strip()) >= 2, "only one consumer got work"
    assert queue.depth().outstanding == 0


def test_messages_held_by_a_killed_process_come_back(backend: Backend, backend_settings: BackendSettings):
    queue = backend.storage.queue(backend_settings.request_queue)
    queue.send_batch(["a", "b", "c"])
    holder = child(backend_settings, "hold", queue.name, "3", "2")
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert queue.depth().in_flight == 3
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    returned: list[Message] = []
    deadline = time.monotonic() + 10
    while len(returned) < 3 and time.monotonic() < deadline:
        returned += queue.receive(10, wait_seconds=5)
    assert sorted(m.body for m in returned) == ["a", "b", "c"]
    assert {m.receive_count for m in returned} == {2}


def test_long_poll_wakes_for_a_send_from_another_process(local_backend: Backend):
    settings = local_backend.settings
    queue = local_backend.storage.queue(settings.request_queue)
    queue.receive(1, wait_seconds=0.01)  # register this thread's doorbell before the child starts
    sender = child(settings, "send", queue.name, "0.5", "ping")
    started = time.monotonic()
    messages = queue.receive(10, wait_seconds=15)
    elapsed = time.monotonic() - started
    sender.wait(timeout=30)
    assert [m.body for m in messages] == ["ping"]
    assert elapsed < 10  # far below the 15 s wait; the child's start-up dominates


def test_queue_configuration_is_shared_between_processes(local_backend: Backend):
    # The child never calls ensure(): it must still see the request queue's dead-letter policy.
    settings = local_backend.settings
    queue = local_backend.storage.queue(settings.request_queue)
    queue.send("poison")
    for _ in range(settings.max_receives):
        [message] = queue.receive(1, wait_seconds=1)
        queue.extend_visibility([message.receipt], 0)
    consumer = child(settings, "consume", queue.name)
    output, _ = consumer.communicate(timeout=30)
    assert output.split() == ["ready"]
    assert local_backend.storage.queue(settings.dead_letter_queue).depth().visible == 1
