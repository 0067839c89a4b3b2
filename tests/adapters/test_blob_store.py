"""The blob store contract, run against both adapters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from services.adapters.errors import InvalidKeyError, ResourceNotFoundError
from services.ports.backend import Backend
from services.ports.storage import BlobNotFoundError, BlobStore
from services.settings import BackendSettings
from tests.fixtures import settings_environment


@pytest.fixture
def store(backend: Backend, backend_settings: BackendSettings) -> BlobStore:
    return backend.storage.blobs(backend_settings.input_bucket)


def test_round_trip_with_metadata(store: BlobStore):
    data = bytes(range(256)) * 40 + b"\n\n"  # binary, with newlines
    store.put(
        "0a1b2c", data, metadata={"image": "cat.jpg", "size": str(len(data))}, content_type="image/jpeg"
    )
    blob = store.get("0a1b2c")
    assert blob.data == data
    assert dict(blob.metadata) == {"image": "cat.jpg", "size": str(len(data))}
    assert store.exists("0a1b2c")
    assert isinstance(store, BlobStore)


def test_overwrite_replaces_data_and_metadata(store: BlobStore):
    store.put("key", b"first", metadata={"v": "1"})
    store.put("key", b"second")
    blob = store.get("key")
    assert (blob.data, dict(blob.metadata)) == (b"second", {})


def test_empty_object(store: BlobStore):
    store.put("empty", b"")
    assert store.get("empty").data == b""


def test_missing_key(store: BlobStore):
    assert not store.exists("f" * 32)
    with pytest.raises(BlobNotFoundError):
        store.get("f" * 32)


def test_buckets_are_separate(backend: Backend, backend_settings: BackendSettings):
    backend.storage.blobs(backend_settings.input_bucket).put("same", b"in")
    assert not backend.storage.blobs(backend_settings.output_bucket).exists("same")


@pytest.mark.parametrize(
    "key", ["", ".", "..", "../etc/passwd", "a/b", ".hidden", "a\\b", "é", "a b", "x" * 256]
)
def test_unsafe_keys_are_rejected(store: BlobStore, key: str):
    with pytest.raises(InvalidKeyError):
        store.put(key, b"x")
    with pytest.raises(InvalidKeyError):
        store.get(key)
    with pytest.raises(InvalidKeyError):
        store.exists(key)


def test_concurrent_writers_never_expose_half_an_object(store: BlobStore):
    payloads = [bytes([i]) * 200_000 for i in range(4)]
    stop = threading.Event()
    seen: set[bytes] = set()

    def write(payload: bytes) -> None:
        while not stop.is_set():
            store.put("hot", payload)

    store.put("hot", payloads[0])
    writers = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for writer in writers:
        writer.start()
    try:
        for _ in range(20):
            data = store.get("hot").data
            assert data in payloads  # never a mix, never truncated
            seen.add(data[:1])
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    assert seen


def test_local_bucket_must_be_created(local_backend: Backend):
    with pytest.raises(ResourceNotFoundError):
        local_backend.storage.blobs("never-created")
    with pytest.raises(InvalidKeyError):
        local_backend.storage.blobs("../outside")


def test_local_writer_killed_mid_write_leaves_old_or_new_object(local_backend: Backend):
    settings = local_backend.settings
    store = local_backend.storage.blobs(settings.input_bucket)
    store.put("big", b"\0" * 8_000_000)
    code = (
        "import sys\n"
        "from services.adapters.registry import open_backend\n"
        "from services.settings import BackendSettings\n"
        "store = open_backend(BackendSettings()).storage.blobs(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "n = 1\n"
        "while True:\n"
        "    store.put('big', bytes([n % 250 + 1]) * 8_000_000)\n"
        "    n += 1\n"
    )
    env = {**os.environ, **settings_environment(settings)}
    child = subprocess.Popen(
        [sys.executable, "-c", code, settings.input_bucket], env=env, stdout=subprocess.PIPE
    )
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    child.wait()
    data = store.get("big").data
    assert len(data) == 8_000_000 and data == data[:1] * len(data)


def test_keys_between_lists_in_order_within_the_open_range(store: BlobStore):
    for key in ["0003", "0001", "0002", "0004", "idem-x", "sweep-checkpoint"]:
        store.put(key, b"x")
    assert list(store.keys_between("0001", "0004")) == ["0002", "0003"]
    assert list(store.keys_between("", "1")) == ["0001", "0002", "0003", "0004"]
    assert list(store.keys_between("", "zz")) == [
        "0001",
        "0002",
        "0003",
        "0004",
        "idem-x",
        "sweep-checkpoint",
    ]
    assert list(store.keys_between("0004", "1")) == []


def test_keys_between_pages_past_a_thousand_keys(store: BlobStore):
    keys = [f"{i:05d}" for i in range(1005)]
    for key in keys:
        store.put(key, b"")
    assert list(store.keys_between("", "a")) == keys
