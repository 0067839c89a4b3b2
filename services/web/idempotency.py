"""`Idempotency-Key`: a retried upload returns the first upload's id and result, classified once.

A client that lost its connection while waiting does not know the request id (it comes with the
answer) and can only send the image again. With the same `Idempotency-Key` header it gets the
first upload's id and result instead of a second classification.

The key is remembered in the input bucket, as `idem-<sha256 of the key>` holding the request id
and the image's sha256, so it is kept exactly as long as the inputs (the bucket's retention,
`input_expiry_days`) and every web process sees it. The same key with a different image is
refused (422), as a payment API would: a key names one operation. Two uploads with one key at
the same instant may both be classified (the second mapping wins); retries are sequential.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel

from services.contract import ErrorKind
from services.ports import BlobNotFoundError, BlobStore
from services.web.errors import ApiError

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, as an HTTP token or a UUID
PREFIX = "idem-"


class Remembered(BaseModel):
    id: str
    image_sha256: str


def _blob_key(key: str) -> str:
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()


class IdempotencyKeys:
    def __init__(self, store: BlobStore) -> None:
        self._store = store

    def lookup(self, key: str, image_sha256: str) -> str | None:
        """The request id first sent with `key`, or None. Blocking."""
        try:
            remembered = Remembered.model_validate_json(self._store.get(_blob_key(key)).data)
        except BlobNotFoundError:
            return None
        if remembered.image_sha256 != image_sha256:
            raise ApiError(
                422,
                ErrorKind.INVALID_REQUEST,
                f"this {HEADER} was used for a different image (request {remembered.id}); use a new key",
                request_id=remembered.id,
            )
        return remembered.id

    def remember(self, key: str, image_sha256: str, request_id: str) -> None:
        """Blocking; before the request is sent, so a retry can never miss a sent request."""
        entry = Remembered(id=request_id, image_sha256=image_sha256)
        self._store.put(_blob_key(key), entry.model_dump_json().encode(), content_type="application/json")
