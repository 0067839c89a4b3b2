"""`Idempotency-Key`: a retried operation (an upload, a job's creation) returns the first one's id.

A client that lost its connection while waiting does not know the id (it comes with the answer)
and can only send the request again. With the same `Idempotency-Key` header it gets the first
upload's id and result instead of a second classification, or the first job instead of a second
one. One module for both: what differs is the fingerprint of the operation (an upload's image
sha256, a job spec's sha256) and which bucket keeps the keys.

An upload's key is remembered in the input bucket, as `idem-<sha256 of the key>` holding the
request id and the image's sha256 (a job's: in the output bucket, by the spec's sha256), so it is
kept exactly as long as the inputs (the bucket's retention, `input_expiry_days`) and every web
process sees it. The same key with a different image (or spec) is refused
(IdempotencyConflictError: 422), as a payment API would: a key names one operation. Two uploads
with one key at the same instant may both be classified (the second mapping wins); retries are sequential.

An upload's key is remembered LAST, after the input is stored and the request is sent (`submission`):
so a remembered id always has a request behind it, whatever instant the web process dies. A
crash before the record is written leaves the key unknown: the retry is a new upload (the
first request, if it was sent, is classified once more for no one; an input never sent is
found by the orphan sweep). Records written by older versions, before their send, are marked
`sent=False` (the default when the field is missing) and are repaired on the next retry.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel

from services.ports.storage import BlobNotFoundError, BlobStore

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as an HTTP token or a UUID
PREFIX = "idem-"


class IdempotencyConflictError(ValueError):
    """The key was used for another operation (`first`: its id)."""

    def __init__(self, first: str) -> None:
        super().__init__(f"this {HEADER} was used for a different request ({first}); use a new key")
        self.first = first


class Remembered(BaseModel):
    id: str
    # The operation's fingerprint (the field keeps its first name: records already stored, and
    # web processes one version apart, read it).
    image_sha256: str
    sent: bool = False  # written after the request was sent (absent in older versions' records)


def blob_key(key: str) -> str:
    """Where the record of `key` is kept in the input bucket."""
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()


class IdempotencyKeys:
    def __init__(self, store: BlobStore) -> None:
        self._store = store

    def lookup(self, key: str, image_sha256: str) -> Remembered | None:
        """What was remembered for `key`, or None; IdempotencyConflictError if it was for another
        fingerprint. Blocking."""
        try:
            remembered = Remembered.model_validate_json(self._store.get(blob_key(key)).data)
        except BlobNotFoundError:
            return None
        if remembered.image_sha256 != image_sha256:
            raise IdempotencyConflictError(remembered.id)
        return remembered

    def remember(self, key: str, image_sha256: str, request_id: str) -> None:
        """Blocking; only once the request is sent (see the module's docstring)."""
        entry = Remembered(id=request_id, image_sha256=image_sha256, sent=True)
        self._store.put(blob_key(key), entry.model_dump_json().encode(), content_type="application/json")
