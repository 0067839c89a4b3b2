"""A client's own images staged for a job: `evision batch ./photos --url ...` (docs/jobs.md).

The client asks `POST /v1/jobs/uploads` for upload URLs, PUTs each image to its URL, then starts
a job whose source is `upload:<id>`. The bounds, all checked before anything is signed:
- count: at most `MAX_FILES_PER_CALL` files per call;
- size: each object at most the service's `max_upload_bytes`, and exactly the size declared: the
  URL signs its Content-Length (S3 refuses another length; the local PUT route checks it);
- lifetime: a URL expires `URL_SECONDS` after it was handed out;
- place: every key is `job-uploads/<id>/<name>`, `name` a relative path that cannot leave it.
A key already stored with the declared size is answered `present` (a PUT is atomic, so a key
that is there is whole): a rerun after an interruption uploads only what is missing.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

PREFIX = "job-uploads/"
SCHEME = "upload:"
MAX_FILES_PER_CALL = 100
URL_SECONDS = 900
MAX_NAME_CHARS = 512
UPLOAD_ID = r"^[0-9a-f]{32}$"
_UPLOAD_ID = re.compile(UPLOAD_ID)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


class StagingRefusedError(ValueError):
    """A name or an upload id that would leave the job's prefix (the message says why)."""


class StagedFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS, description="relative path, '/'-separated")
    size: int = Field(ge=0, description="bytes: the URL is signed for exactly this many")


class UploadRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    upload: str = Field(pattern=UPLOAD_ID, description="the client's upload id: the same id resumes")
    files: list[StagedFile] = Field(min_length=1, description=f"at most {MAX_FILES_PER_CALL} per call")


class UploadTarget(BaseModel):
    name: str
    size: int
    present: bool = Field(description="already stored with this size: nothing to upload")
    url: str | None = Field(default=None, description="absolute, or a path on this service")
    headers: dict[str, str] = Field(default_factory=dict, description="send them as they are (signed)")


class UploadPlan(BaseModel):
    upload: str
    source: str = Field(description="the job source that reads the staged images (POST /v1/jobs)")
    expires_at: int = Field(description="when the URLs expire (unix seconds)")
    max_bytes: int
    max_files: int
    files: list[UploadTarget]


def check_name(name: str) -> str:
    """`name` if it stays inside its job's prefix: relative, no '.' or '..' or hidden segment,
    no empty segment, no backslash or control character."""
    if _CONTROL.search(name) or name.startswith("/"):
        why = "absolute, or a backslash or control character"
        raise StagingRefusedError(f"{name!r}: a key outside the job prefix ({why})")
    for part in name.split("/"):
        if not part or part.startswith("."):
            raise StagingRefusedError(
                f"{name!r}: a key outside the job prefix (empty, '.', '..' or hidden path segment)"
            )
    return name


def upload_prefix(upload: str) -> str:
    if not _UPLOAD_ID.fullmatch(upload):
        raise StagingRefusedError(f"{upload!r} is not an upload id (32 hex digits)")
    return f"{PREFIX}{upload}/"


def source_of(upload: str) -> str:
    return SCHEME + upload


def upload_of(source: str) -> str | None:
    """The upload id of an `upload:<id>` source (None: another kind of source)."""
    return source.removeprefix(SCHEME) if source.startswith(SCHEME) else None
