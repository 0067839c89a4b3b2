"""Submit one image and wait for its result: store, register, send, await the reply."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib

from anyio import to_thread

from services.contract import RequestMessage, Result, new_request_id
from services.ports import BlobNotFoundError
from services.web.deps import WebServices
from services.web.idempotency import IdempotencyKeys
from services.web.upload import UploadedImage

RETRY_POLL_SECONDS = 0.25  # a retry waits for the first upload's result by reading the store

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
}


async def submit(
    services: WebServices, image: UploadedImage, idempotency_key: str | None = None
) -> tuple[str, Result | None]:
    """Returns (request id, result), or (request id, None) if the wait ran out (answer 202).

    With an idempotency key already used for this image: the first upload's id and result.
    """
    keys = IdempotencyKeys(services.inputs)
    digest = hashlib.sha256(image.data).hexdigest() if idempotency_key else ""
    if idempotency_key:
        first = await to_thread.run_sync(keys.lookup, idempotency_key, digest)
        if first is not None:
            return first, await _stored(services, first)
    request_id = new_request_id()
    message = RequestMessage(id=request_id, image=image.name, reply_to=services.reply_queue)
    # Register before sending: the reply may come back before send() returns.
    future = services.dispatcher.register(request_id)

    def store_and_send() -> None:  # the blocking calls together: one thread hop, where one is needed
        if idempotency_key:
            keys.remember(idempotency_key, digest, request_id)
        services.inputs.put(
            request_id,
            image.data,
            metadata={"filename": image.ascii_name, "format": image.format},
            content_type=CONTENT_TYPES.get(image.format, "application/octet-stream"),
        )
        services.send_request(message.model_dump_json())

    services.activity.uploads += 1
    try:
        if services.backend.calls_are_brief:
            # On the event loop: the thread hop cost more web CPU than the calls themselves
            # (~0.25 of ~1.3 ms per request at concurrency 32 on the local backend).
            store_and_send()
        else:
            await to_thread.run_sync(store_and_send)
        services.fast_scaling.on_upload()
        with contextlib.suppress(TimeoutError):
            result = await asyncio.wait_for(future, services.settings.wait_seconds)
            services.activity.answered += 1
            return request_id, result
        return request_id, None
    finally:
        services.dispatcher.forget(request_id)


async def _stored(services: WebServices, request_id: str) -> Result | None:
    """The stored result of an earlier request, waited for like a new one's (polling the store)."""
    deadline = asyncio.get_running_loop().time() + services.settings.wait_seconds
    while True:
        try:
            blob = await to_thread.run_sync(services.outputs.get, request_id)
            return Result.model_validate_json(blob.data)
        except BlobNotFoundError:
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(RETRY_POLL_SECONDS)
