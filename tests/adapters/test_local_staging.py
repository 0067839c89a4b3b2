"""The local staging role: the signature binds key, size and expiry; an expired one is refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from services.adapters.local.blob import LocalBlobStore
from services.ports.staging import JobStaging, PresignsPuts, ReceivesSignedPuts, SignatureRefusedError


def test_local_staging_signs_checks_and_writes_whole_files(tmp_path: Path) -> None:
    LocalBlobStore.create(tmp_path, "input")
    store = LocalBlobStore(tmp_path, "input")
    assert isinstance(store, JobStaging) and isinstance(store, ReceivesSignedPuts)
    assert not isinstance(store, PresignsPuts)  # the web tier receives its PUTs
    key, later = "job-uploads/" + "a" * 32 + "/trip/one.jpg", int(time.time()) + 60
    signature = store.signature(key, 3, later)
    with pytest.raises(SignatureRefusedError, match="expired"):
        past = int(time.time()) - 1
        store.receive_put(key, 3, past, store.signature(key, 3, past), b"abc")
    with pytest.raises(SignatureRefusedError, match="does not match"):
        store.receive_put(key, 4, later, signature, b"abcd")
    store.receive_put(key, 3, later, signature, b"abc")
    prefix = "job-uploads/" + "a" * 32 + "/"
    assert store.staged_sizes(prefix, ["trip/one.jpg", "two.jpg"]) == {"trip/one.jpg": 3}
    folder = Path(store.staging_location(prefix))
    assert (folder / "trip" / "one.jpg").read_bytes() == b"abc"  # plain bytes: a folder job reads them
    again = LocalBlobStore(tmp_path, "input")  # another process on the same data dir
    assert again.signature(key, 3, later) == signature


def test_staged_files_expire_with_the_inputs(tmp_path: Path) -> None:
    LocalBlobStore.create(tmp_path, "input")
    store = LocalBlobStore(tmp_path, "input")
    key, later = "job-uploads/" + "b" * 32 + "/old.jpg", int(time.time()) + 60
    store.receive_put(key, 1, later, store.signature(key, 1, later), b"x")
    assert store.delete_older_than(time.time() - 3600) == 0  # written just now: kept
    assert store.delete_older_than(time.time() + 1) == 1
    assert not (tmp_path / "staged" / "input" / "job-uploads").exists()  # emptied folders go too
    assert store.signature(key, 1, later) == LocalBlobStore(tmp_path, "input").signature(key, 1, later)
