"""Staging a client's own images for a job: `POST /v1/jobs/uploads` (signed upload URLs) and,
where the store has no endpoint of its own (local), `PUT /v1/jobs/uploads/{upload}/{name}`.

The rules are in `services.jobs.staging`; where the URLs point is the store's role: a store that
`PresignsPuts` (S3) hands out its own presigned URLs, one that `ReceivesSignedPuts` (local files)
signs URLs of this route and checks them when the PUT arrives.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from anyio import to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from services.contract import ErrorKind
from services.jobs.staging import (
    MAX_FILES_PER_CALL,
    UPLOAD_ID,
    URL_SECONDS,
    StagingRefusedError,
    UploadPlan,
    UploadRequest,
    UploadTarget,
    check_name,
    source_of,
    upload_prefix,
)
from services.ports.staging import (
    JobStaging,
    PresignsPuts,
    ReceivesSignedPuts,
    SignatureRefusedError,
    SignedPut,
)
from services.ports.storage import BlobStore
from services.web.deps import InputsDep, SettingsDep
from services.web.errors import ApiError
from services.web.responses import ERRORS
from services.web.schemas import ErrorResponse

router = APIRouter(tags=["jobs"])
REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorResponse, "description": "an expired or forged signature, another size"},
    413: {"model": ErrorResponse, "description": "an object larger than the service takes"},
    422: {"model": ErrorResponse, "description": "too many files, a key outside the job prefix"},
}


def _staging(store: BlobStore) -> JobStaging:
    if not isinstance(store, JobStaging) or not isinstance(store, PresignsPuts | ReceivesSignedPuts):
        raise ApiError(404, ErrorKind.NOT_FOUND, "this service stages no uploads (its store cannot)")
    return store


@router.post(
    "/v1/jobs/uploads",
    response_model=UploadPlan,
    responses={**ERRORS, **REFUSALS},
    summary="Upload URLs for a client's own images (then POST /v1/jobs with the answer's source)",
)
async def post_uploads(request: UploadRequest, inputs: InputsDep, settings: SettingsDep) -> UploadPlan:
    store = _staging(inputs)
    most = settings.max_upload_bytes
    if len(request.files) > MAX_FILES_PER_CALL:
        reason = f"{len(request.files)} files in one call: ask for at most {MAX_FILES_PER_CALL} at a time"
        raise ApiError(422, ErrorKind.INVALID_REQUEST, reason)
    prefix = upload_prefix(request.upload)
    try:
        names = [check_name(file.name) for file in request.files]
    except StagingRefusedError as exc:
        raise ApiError(422, ErrorKind.INVALID_REQUEST, str(exc)) from None
    if len(set(names)) != len(names):
        raise ApiError(422, ErrorKind.INVALID_REQUEST, "a name is given twice")
    for file in request.files:
        if file.size > most:
            reason = f"{file.name!r} is {file.size} bytes: the service takes at most {most} per object"
            raise ApiError(413, ErrorKind.TOO_LARGE, reason)
    expires_at = int(time.time()) + URL_SECONDS

    def sign() -> UploadPlan:
        stored = store.staged_sizes(prefix, names)
        targets = []
        for file in request.files:
            if stored.get(file.name) == file.size:
                targets.append(UploadTarget(name=file.name, size=file.size, present=True))
                continue
            signed = _sign(store, request.upload, prefix + file.name, file.size, expires_at)
            target = UploadTarget(
                name=file.name, size=file.size, present=False, url=signed.url, headers=dict(signed.headers)
            )
            targets.append(target)
        return UploadPlan(
            upload=request.upload,
            source=source_of(request.upload),
            expires_at=expires_at,
            max_bytes=most,
            max_files=MAX_FILES_PER_CALL,
            files=targets,
        )

    return await to_thread.run_sync(sign)


def _sign(store: JobStaging, upload: str, key: str, size: int, expires_at: int) -> SignedPut:
    if isinstance(store, PresignsPuts):
        return store.sign_put(key, size, expires_at)
    assert isinstance(store, ReceivesSignedPuts)  # _staging checked
    name = key.removeprefix(upload_prefix(upload))
    signature = store.signature(key, size, expires_at)
    query = urlencode({"size": size, "expires": expires_at, "signature": signature})
    url = f"/v1/jobs/uploads/{upload}/{quote(name)}?{query}"
    return SignedPut(url=url, headers={"Content-Length": str(size)})


@router.put(
    "/v1/jobs/uploads/{upload}/{name:path}",
    status_code=204,
    responses={**ERRORS, **REFUSALS},
    summary="Receive one staged image (a URL from POST /v1/jobs/uploads, where the store has no endpoint)",
)
async def put_upload(
    request: Request,
    inputs: InputsDep,
    settings: SettingsDep,
    upload: Annotated[str, Path(pattern=UPLOAD_ID)],
    name: str,
    size: Annotated[int, Query(ge=0)],
    expires: int,
    signature: Annotated[str, Query(max_length=128, pattern="^[0-9a-f]+$")],
) -> Response:
    store = inputs
    if not isinstance(store, ReceivesSignedPuts):
        raise ApiError(404, ErrorKind.NOT_FOUND, "this service's store takes uploads itself (S3)")
    try:
        key = upload_prefix(upload) + check_name(name)
    except StagingRefusedError as exc:
        raise ApiError(422, ErrorKind.INVALID_REQUEST, str(exc)) from None
    if size > settings.max_upload_bytes:  # no valid signature says so; refused unread
        raise ApiError(413, ErrorKind.TOO_LARGE, f"at most {settings.max_upload_bytes} bytes")
    data = bytearray()
    async for part in request.stream():
        data += part
        if len(data) > size:
            raise ApiError(413, ErrorKind.TOO_LARGE, f"the URL is signed for {size} bytes; more arrived")
    try:
        await to_thread.run_sync(store.receive_put, key, size, expires, signature, bytes(data))
    except SignatureRefusedError as exc:
        raise ApiError(403, ErrorKind.UNAUTHORIZED, str(exc)) from None
    return Response(status_code=204)
