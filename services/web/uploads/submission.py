"""Submit one image and wait for its result: store, register, send, await the reply."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from anyio import to_thread

from services.contract import ErrorKind, Precision, RequestMessage, Result, as_precision, new_request_id
from services.idempotency import IdempotencyConflictError, IdempotencyKeys, Remembered
from services.ports.storage import BlobNotFoundError, BlobStore
from services.results import stored_result
from services.web.activity import Activity
from services.web.errors import ApiError
from services.web.fast_scaling import FastScaling
from services.web.replies.dispatcher import ReplyDispatcher
from services.web.uploads.crash_points import CrashPoint, crash_here
from services.web.uploads.form import UploadedImage

RETRY_POLL_SECONDS = 0.25  # a retry waits for the first upload's result by reading the store

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
}


@dataclass(frozen=True, slots=True)
class Submitter:
    """What a submission touches, and nothing else (built once in the app's lifespan)."""

    inputs: BlobStore
    outputs: BlobStore
    send_request: Callable[[str], object]  # grouped into batches where calls are slow
    reply_queue: str  # this process's own (the keeper's)
    dispatcher: ReplyDispatcher
    activity: Activity
    fast_scaling: FastScaling
    wait_seconds: float
    crash_after: CrashPoint | None
    calls_are_brief: bool  # True: the blocking calls run on the event loop


async def submit(
    submitter: Submitter,
    image: UploadedImage,
    idempotency_key: str | None = None,
    model: str | None = None,
    precision: Precision = "auto",
) -> tuple[str, Result | None]:
    """Returns (request id, result), or (request id, None) if the wait ran out (answer 202).

    With an idempotency key already used for this image: the first upload's id and result.
    """
    keys = IdempotencyKeys(submitter.inputs)
    digest = hashlib.sha256(image.data).hexdigest() if idempotency_key else ""
    if idempotency_key:
        try:
            first = await to_thread.run_sync(keys.lookup, idempotency_key, digest)
        except IdempotencyConflictError as exc:
            raise ApiError(422, ErrorKind.INVALID_REQUEST, str(exc), request_id=exc.first) from None
        if first is not None and await to_thread.run_sync(_stands, submitter, keys, idempotency_key, first):
            return first.id, await _stored(submitter, first.id)
    request_id = new_request_id()
    message = RequestMessage(
        id=request_id, image=image.name, reply_to=submitter.reply_queue, model=model, precision=precision
    )
    # Register before sending: the reply may come back before send() returns.
    future = submitter.dispatcher.register(request_id)
    crash_after = submitter.crash_after

    def store_and_send() -> None:  # the blocking calls together: one thread hop, where one is needed
        # The order is what makes a crash at any instant safe: the input before the request that
        # names it (a worker never looks for an image not yet stored), the request before the
        # key that names its id (a remembered id always has a request behind it), and the id
        # reaches the client only after all three. An input whose request was never sent is
        # known to no one; the orphan sweep classifies it all the same.
        submitter.inputs.put(
            request_id,
            image.data,
            # The model and a pinned precision too: a request sent again (orphan sweep, an old
            # key) names the same ones.
            metadata={
                "filename": image.ascii_name,
                "format": image.format,
                **({"model": model} if model else {}),
                **({"precision": precision} if precision != "auto" else {}),
            },
            content_type=CONTENT_TYPES.get(image.format, "application/octet-stream"),
        )
        crash_here(CrashPoint.INPUT, crash_after)
        submitter.send_request(message.model_dump_json())
        crash_here(CrashPoint.SEND, crash_after)
        if idempotency_key:
            keys.remember(idempotency_key, digest, request_id)
            crash_here(CrashPoint.REMEMBER, crash_after)

    submitter.activity.uploads += 1
    try:
        if submitter.calls_are_brief:
            # On the event loop: the thread hop cost more web CPU than the calls themselves
            # (~0.25 of ~1.3 ms per request at concurrency 32 on the local backend).
            store_and_send()
        else:
            await to_thread.run_sync(store_and_send)
        submitter.fast_scaling.on_upload()
        with contextlib.suppress(TimeoutError):
            result = await asyncio.wait_for(future, submitter.wait_seconds)
            submitter.activity.answered += 1
            return request_id, result
        return request_id, None
    finally:
        submitter.dispatcher.forget(request_id)


def _stands(submitter: Submitter, keys: IdempotencyKeys, key: str, first: Remembered) -> bool:
    """Whether the remembered request will end in a result (blocking); False: treat the key as new.

    A record written after its send (`sent`) always stands. One written by an older version,
    before its send, may have no request behind it: it is repaired here by sending the request
    again (workers are idempotent by id: at most one more classification, never a second
    answer), or dropped if its input was never stored.
    """
    if first.sent or submitter.outputs.exists(first.id):
        return True
    try:
        stored = submitter.inputs.get(first.id)
    except BlobNotFoundError:
        return False
    name = stored.metadata.get("filename") or first.id
    model = stored.metadata.get("model") or None
    repeat = RequestMessage(
        id=first.id,
        image=name,
        reply_to=submitter.reply_queue,
        model=model,
        precision=as_precision(stored.metadata.get("precision")),
    )
    submitter.send_request(repeat.model_dump_json())
    keys.remember(key, first.image_sha256, first.id)
    return True


async def _stored(submitter: Submitter, request_id: str) -> Result | None:
    """The stored result of an earlier request, waited for like a new one's (polling the store)."""
    deadline = asyncio.get_running_loop().time() + submitter.wait_seconds
    while (result := await to_thread.run_sync(stored_result, submitter.outputs, request_id)) is None:
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(RETRY_POLL_SECONDS)
    return result
