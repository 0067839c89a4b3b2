"""The worker loop with the real model on the local backend: results, replies, deletes, isolation."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.adapters.registry import open_backend
from services.contract import ErrorKind, ReplyMessage, RequestMessage, Result, new_request_id
from services.ports.backend import Backend
from services.ports.storage import BlobStore
from services.worker.classifier import load_classifier
from services.worker.classify_core import even_calls
from services.worker.heartbeat import VisibilityHeartbeat
from services.worker.pipeline import WorkerPorts
from services.worker.runner import EXIT_WEDGED, Worker
from services.worker.settings import WorkerSettings
from tests.fixtures import GOLDEN, golden_bytes, settings_for

REPLIES = "worker-test-replies"


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


@dataclass
class Setup:
    settings: WorkerSettings
    backend: Backend

    @property
    def requests(self):
        return self.backend.storage.queue(self.settings.request_queue)

    @property
    def inputs(self) -> BlobStore:
        return self.backend.storage.blobs(self.settings.input_bucket)

    @property
    def outputs(self) -> BlobStore:
        return self.backend.storage.blobs(self.settings.output_bucket)

    def submit(self, name: str, data: bytes | None) -> str:
        request_id = new_request_id()
        if data is not None:
            self.inputs.put(request_id, data)
        self.requests.send(RequestMessage(id=request_id, image=name, reply_to=REPLIES).model_dump_json())
        return request_id

    def replies(self) -> dict[str, Result]:
        queue = self.backend.storage.queue(REPLIES)
        found: dict[str, Result] = {}
        while messages := queue.receive(10, wait_seconds=0):
            for message in messages:
                reply = ReplyMessage.model_validate_json(message.body)
                found[reply.id] = reply.result
            queue.delete_batch([m.receipt for m in messages])
        return found


def _setup(data_dir: Path, visibility_timeout: float) -> Setup:
    base = settings_for("local", data_dir, visibility_timeout=visibility_timeout, max_receives=2).model_dump()
    # Chunks of up to 4 images per inference call: a bad image mid-chunk must not shift the others.
    settings = WorkerSettings.model_validate(
        {**base, "burst_poll_seconds": 0.2, "threads": 2, "infer_batch": 4}
    )
    backend = open_backend(settings)
    backend.storage.provision(settings, reply_queues=[REPLIES])
    return Setup(settings, backend)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    made = _setup(tmp_path / "data", visibility_timeout=0.5)
    yield made
    made.backend.close()


@pytest.fixture
def long_lease(tmp_path: Path) -> Iterator[Setup]:
    """Messages stay invisible for 30 s once received (unless released)."""
    made = _setup(tmp_path / "data", visibility_timeout=30.0)
    yield made
    made.backend.close()


def _worker(
    setup: Setup, classifier, outputs: BlobStore | None = None, cls=Worker, brief_io=False, **overrides
):
    ports = WorkerPorts(
        requests=setup.requests,
        inputs=setup.inputs,
        outputs=outputs or setup.outputs,
        reply_queue=setup.backend.storage.queue,
        classifier=classifier,
    )
    settings = setup.settings.model_copy(update=overrides)
    return cls(settings=settings, ports=ports, worker_id="test-worker", brief_io=brief_io)


@pytest.mark.parametrize("brief_io", [False, True], ids=["io-pool", "io-inline"])
def test_a_mixed_batch_is_answered_message_by_message(setup: Setup, classifier, brief_io: bool) -> None:
    names = sorted(GOLDEN)
    good = {setup.submit(name, golden_bytes(name)): name for name in names[:2]}
    truncated = setup.submit("cut.jpg", golden_bytes("cat.jpg")[:2000])  # mid-chunk
    good |= {setup.submit(name, golden_bytes(name)): name for name in names[2:]}
    missing = setup.submit("gone.jpg", None)

    worker = _worker(setup, classifier, brief_io=brief_io)
    try:
        assert worker.work(burst=True) == 0
    finally:
        worker.close()

    replies = setup.replies()
    assert set(replies) == {*good, truncated, missing}
    for request_id, name in good.items():
        stored = Result.model_validate_json(setup.outputs.get(request_id).data)
        assert stored == replies[request_id]  # the reply carries exactly the stored result
        assert stored.ok and stored.label in GOLDEN[name] and stored.image == name
        assert stored.worker == "test-worker" and stored.model == classifier.name
        assert stored.top5[0].label == stored.label and len(stored.top5) == 5
        assert {"queue", "fetch", "preprocess", "infer", "total"} <= set(stored.timings)
    truncated_error, missing_error = replies[truncated].error, replies[missing].error
    assert truncated_error is not None and truncated_error.kind.is_client_error
    assert missing_error is not None and missing_error.kind == ErrorKind.MISSING_INPUT
    assert setup.requests.depth().outstanding == 0  # everything answered was deleted


class _FailingStore:
    """An output bucket that is down: every write fails."""

    name = "broken"

    def put(
        self, key: str, data: bytes, *, metadata: Mapping[str, str] | None = None, content_type: str = ""
    ) -> None:
        raise ConnectionError("output bucket unavailable")

    def get(self, key: str):
        raise AssertionError("not used")

    def exists(self, key: str) -> bool:
        return False

    def keys_between(self, after: str, before: str) -> Iterator[str]:
        raise AssertionError("not used")


def test_unexpected_failures_are_retried_then_dead_lettered(setup: Setup, classifier) -> None:
    request_id = setup.submit("cat.jpg", golden_bytes("cat.jpg"))
    setup.requests.send("{not a request message")
    worker = _worker(setup, classifier, outputs=_FailingStore())
    try:
        started = time.monotonic()
        # Burst mode keeps receiving while redeliveries come back; the third receive dead-letters.
        while setup.requests.depth().outstanding and time.monotonic() - started < 20:
            worker.work(burst=True)
    finally:
        worker.close()
    assert setup.replies() == {}  # nothing was answered: no result could be stored
    assert setup.requests.depth().outstanding == 0
    dead = setup.backend.storage.queue(setup.settings.dead_letter_queue)
    bodies = [m.body for m in dead.receive(10, wait_seconds=0)]
    assert len(bodies) == 2 and any(request_id in body for body in bodies)
    assert worker.batches >= 2  # each message was received max_receives times


def test_heartbeat_keeps_a_long_batch_invisible(setup: Setup) -> None:
    setup.requests.send("slow")
    [message] = setup.requests.receive(1, wait_seconds=1)
    heartbeat = VisibilityHeartbeat(setup.requests, timeout=0.5, fraction=0.4)
    try:
        with heartbeat.watch([message.receipt]):
            assert setup.requests.receive(1, wait_seconds=1.2) == []  # longer than the timeout
        assert heartbeat.extensions >= 2
        [again] = setup.requests.receive(1, wait_seconds=2)  # released once the batch stops extending
    finally:
        heartbeat.close()
    assert again.message_id == message.message_id and again.receive_count == 2


def test_one_heartbeat_watches_each_batch_for_as_long_as_it_runs(setup: Setup) -> None:
    setup.requests.send_batch(["short", "long"])
    messages = setup.requests.receive(2, wait_seconds=1)
    receipts = {m.body: m.receipt for m in messages}
    heartbeat = VisibilityHeartbeat(setup.requests, timeout=0.5, fraction=0.4)
    try:
        with heartbeat.watch([receipts["long"]]):
            with heartbeat.watch([receipts["short"]]):
                time.sleep(0.3)
            # "short" ended: it comes back after its timeout while "long" is still extended.
            [back] = setup.requests.receive(2, wait_seconds=1.5)
            assert back.body == "short"
            assert setup.requests.receive(1, wait_seconds=0.6) == []
    finally:
        heartbeat.close()
    assert heartbeat.extensions >= 3


class _CountingWorker(Worker):
    """The real worker, recording how many batches it holds at once."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lock = threading.Lock()
        self.holding = 0
        self.most_held = 0
        self.batch_started = threading.Event()

    def process(self, messages):
        with self.lock:
            self.holding += 1
            self.most_held = max(self.most_held, self.holding)
        self.batch_started.set()
        try:
            return super().process(messages)
        finally:
            with self.lock:
                self.holding -= 1


def _submit_golden(setup: Setup, count: int) -> set[str]:
    names = sorted(GOLDEN)
    return {setup.submit(names[i % len(names)], golden_bytes(names[i % len(names)])) for i in range(count)}


def test_batches_overlap_up_to_the_limit_and_all_are_answered(setup: Setup, classifier) -> None:
    submitted = _submit_golden(setup, 60)
    worker = _worker(setup, classifier, cls=_CountingWorker, batch_size=5, batches_in_flight=2)
    try:
        assert worker.work(burst=True) == 0
    finally:
        worker.close()
    assert set(setup.replies()) == submitted
    assert worker.most_held == 2  # the next batch was fetched while one was classified, never more
    assert setup.requests.depth().outstanding == 0


def test_a_stop_finishes_every_batch_in_hand_and_takes_no_more(setup: Setup, classifier) -> None:
    _submit_golden(setup, 80)
    worker = _worker(
        setup, classifier, cls=_CountingWorker, batch_size=10, batches_in_flight=2, poll_seconds=1.0
    )
    runner = threading.Thread(target=worker.work)
    try:
        runner.start()
        assert worker.batch_started.wait(30)
        worker.request_stop()
        runner.join(60)
        assert not runner.is_alive()
    finally:
        worker.close()
    answered = setup.replies()
    depth = setup.requests.depth()
    # Every message the worker took was answered and deleted; the rest wait, visible, for others.
    assert depth.in_flight == 0
    assert 1 <= len(answered) == worker.messages and depth.visible == 80 - len(answered)
    assert worker.most_held <= 2


@pytest.mark.parametrize(
    ("items", "most", "threads", "sizes"),
    [
        (0, 4, 2, []),
        (1, 4, 2, [1]),
        (3, 4, 2, [2, 1]),
        (7, 4, 2, [4, 3]),
        (10, 4, 2, [3, 3, 2, 2]),  # not 4, 4, 2: one thread would idle through the last call
        (10, 1, 2, [1] * 10),
        (10, 4, 1, [4, 3, 3]),
        (20, 4, 2, [4, 4, 3, 3, 3, 3]),
    ],
)
def test_inference_calls_share_a_batch_evenly_and_in_order(items, most, threads, sizes) -> None:
    calls = even_calls(list(range(items)), most, threads)
    assert [len(c) for c in calls] == sizes
    assert [i for c in calls for i in c] == list(range(items))


class _HangingClassifier:
    """The real model, except that decoding the image named HANG never returns (until released)."""

    HANG = b"hang forever"

    def __init__(self, model) -> None:
        self.model = model
        self.release = threading.Event()
        self.hung = threading.Event()
        self.name, self.input_shape, self.infer = model.name, model.input_shape, model.infer
        self.ref, self.engine = model.ref, model.engine

    def preprocess(self, data: bytes, out=None):
        if data == self.HANG:
            self.hung.set()
            self.release.wait(60)
            raise RuntimeError("released by the test")
        return self.model.preprocess(data, out)


def test_a_hung_decode_misses_the_deadline_releases_its_batch_and_stops_the_worker(
    long_lease: Setup, classifier
) -> None:
    setup = long_lease
    hanging = _HangingClassifier(classifier)
    poison = setup.submit("hang.jpg", _HangingClassifier.HANG)
    worker = _worker(setup, hanging, batch_size=1, batch_deadline=1.0)
    try:
        started = time.monotonic()
        assert worker.work(burst=True) == EXIT_WEDGED
        took = time.monotonic() - started
        assert worker.wedged
    finally:
        hanging.release.set()
        worker.close()
    assert hanging.hung.is_set() and took < 10
    # Released at once (not after the 30 s visibility timeout): the next receive has it again.
    [again] = setup.requests.receive(1, wait_seconds=2)
    assert poison in again.body and again.receive_count == 2
    assert setup.replies() == {}


def test_a_batch_in_time_is_not_affected_by_the_deadline(setup: Setup, classifier) -> None:
    submitted = _submit_golden(setup, 6)
    worker = _worker(setup, classifier, batch_deadline=60.0)
    try:
        assert worker.work(burst=True) == 0
    finally:
        worker.close()
    assert set(setup.replies()) == submitted and not worker.wedged
