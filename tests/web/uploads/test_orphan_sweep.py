"""The orphan sweep, on both backends: an input whose request never reached the queue is sent again,
once the queues are idle; nothing else is."""

from __future__ import annotations

import pytest

from services.contract import RequestMessage, Result, new_request_id
from services.ports.backend import Backend
from services.settings import BackendSettings
from services.web.uploads.orphan_sweep import CHECKPOINT, OrphanSweep

MARGIN = 20.0
PERIOD = 60.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


def _sweep(backend: Backend, settings: BackendSettings, clock: Clock) -> OrphanSweep:
    return OrphanSweep(
        inputs=backend.storage.blobs(settings.input_bucket),
        outputs=backend.storage.blobs(settings.output_bucket),
        requests=backend.storage.queue(settings.request_queue),
        dead_letters=backend.storage.queue(settings.dead_letter_queue),
        reply_to="replies-x",
        period=PERIOD,
        margin=MARGIN,
        clock=clock,
    )


def _input(backend: Backend, settings: BackendSettings, made_at: float, name: str = "cat.jpg") -> str:
    request_id = new_request_id(made_at)
    backend.storage.blobs(settings.input_bucket).put(request_id, b"image", metadata={"filename": name})
    return request_id


def _sent(backend: Backend, settings: BackendSettings) -> list[RequestMessage]:
    queue = backend.storage.queue(settings.request_queue)
    messages = queue.receive(10, wait_seconds=0)
    queue.delete_batch([m.receipt for m in messages])
    return [RequestMessage.model_validate_json(m.body) for m in messages]


def test_an_input_without_request_or_result_is_sent_again_after_two_idle_reads(
    backend: Backend, backend_settings: BackendSettings, clock: Clock
) -> None:
    orphan = _input(backend, backend_settings, clock.now - 120, "dog.png")
    answered = _input(backend, backend_settings, clock.now - 100)
    result = Result(id=answered, image="cat.jpg", label="tabby")
    backend.storage.blobs(backend_settings.output_bucket).put(answered, result.model_dump_json().encode())
    sweep = _sweep(backend, backend_settings, clock)

    assert sweep.sweep() == 0  # the first idle read only starts the watch
    clock.now += PERIOD
    assert sweep.sweep() == 1
    (message,) = _sent(backend, backend_settings)
    assert (message.id, message.image, message.reply_to) == (orphan, "dog.png", "replies-x")
    assert backend.storage.blobs(backend_settings.input_bucket).exists(CHECKPOINT)

    clock.now += PERIOD  # checked once: never again, by this sweep or another process's
    assert sweep.sweep() == 0
    again = _sweep(backend, backend_settings, clock)
    again.sweep()
    clock.now += PERIOD
    assert again.sweep() == 0
    assert _sent(backend, backend_settings) == []


def test_an_orphan_is_sent_again_with_the_model_and_precision_it_was_stored_with(
    backend: Backend, backend_settings: BackendSettings, clock: Clock
) -> None:
    inputs = backend.storage.blobs(backend_settings.input_bucket)
    pinned, plain = new_request_id(clock.now - 120), new_request_id(clock.now - 110)
    inputs.put(pinned, b"image", metadata={"filename": "a.jpg", "model": "m@1", "precision": "fp32"})
    inputs.put(plain, b"image", metadata={"filename": "b.jpg"})  # stored before precisions: auto
    sweep = _sweep(backend, backend_settings, clock)
    sweep.sweep()
    clock.now += PERIOD
    assert sweep.sweep() == 2
    sent = {m.id: (m.model, m.precision) for m in _sent(backend, backend_settings)}
    assert sent == {pinned: ("m@1", "fp32"), plain: (None, "auto")}


def test_an_input_younger_than_the_margin_is_left_to_its_own_send(
    backend: Backend, backend_settings: BackendSettings, clock: Clock
) -> None:
    _input(backend, backend_settings, clock.now - MARGIN / 2)  # its process may be about to send
    sweep = _sweep(backend, backend_settings, clock)
    sweep.sweep()
    clock.now += 1
    assert sweep.sweep() == 0
    assert _sent(backend, backend_settings) == []


def test_nothing_is_sent_again_while_a_queue_holds_work(
    backend: Backend, backend_settings: BackendSettings, clock: Clock
) -> None:
    pending = _input(backend, backend_settings, clock.now - 120)
    requests = backend.storage.queue(backend_settings.request_queue)
    requests.send(RequestMessage(id=pending, image="cat.jpg", reply_to="r").model_dump_json())
    sweep = _sweep(backend, backend_settings, clock)
    for _ in range(3):
        assert sweep.sweep() == 0
        clock.now += PERIOD
    # A dead letter counts too: its `failed` result is on its way.
    (message,) = requests.receive(1, wait_seconds=0)
    requests.delete_batch([message.receipt])
    backend.storage.queue(backend_settings.dead_letter_queue).send(message.body)
    for _ in range(3):
        assert sweep.sweep() == 0
        clock.now += PERIOD
