"""An S3 bucket prefix as a batch job's source: every object under it, keyed by its full key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from services.ports.job_locations import OutputUnwritableError, SourceUnreadableError
from services.ports.storage import BlobNotFoundError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def parse_s3_location(location: str) -> tuple[str, str]:
    """(bucket, prefix) of s3://bucket/prefix; ValueError for anything else."""
    if not location.startswith("s3://"):
        raise ValueError(f"{location!r} is not s3://bucket/prefix")
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"{location!r} names no bucket")
    return bucket, prefix


# ListObjectsV2's answers that no retry mends (S3 API reference, "Error responses"; 2026-12).
UNREADABLE = {
    "NoSuchBucket": " (no bucket of that name)",
    "AccessDenied": " (the service's role may not list it: in the cloud, add the bucket to the "
    "jobSourceBuckets context key)",
    "AllAccessDisabled": " (access to the bucket is disabled)",
    "InvalidBucketName": "",
    "PermanentRedirect": " (the bucket is in another region)",
}


# PutObject's answers that no retry mends (the same reference).
UNWRITABLE = {
    **{code: why for code, why in UNREADABLE.items() if code != "AccessDenied"},
    "AccessDenied": " (the service's role may not write it: in the cloud, add the bucket to the "
    "jobOutputBuckets context key)",
}


def _permanent(error: ClientError, answers: dict[str, str]) -> str | None:
    """The error's code and what it means, if it is one of `answers` (None: maybe transient)."""
    code = error.response.get("Error", {}).get("Code", "")
    return f"{code}{answers[code]}" if code in answers else None


class PrefixSource:
    def __init__(self, s3: S3Client, location: str) -> None:
        self._s3 = s3
        self._bucket, self._prefix = parse_s3_location(location)

    @property
    def location(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}"

    def keys_after(self, cursor: str) -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        start = max(cursor, self._prefix)
        pages = paginator.paginate(Bucket=self._bucket, Prefix=self._prefix, StartAfter=start)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):  # the console's "folder" placeholders
                        yield item["Key"]
        except ClientError as error:
            if (why := _permanent(error, UNREADABLE)) is not None:
                raise SourceUnreadableError(f"cannot list {self.location}: {why}") from None
            raise

    def read(self, key: str) -> bytes:
        if not key.startswith(self._prefix):
            raise BlobNotFoundError(f"{key} is outside {self.location}")
        try:
            body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise BlobNotFoundError(f"{self.location}{key}") from None
        return body


class PrefixOutput:
    """An S3 bucket prefix a job's results are copied into (a PUT is atomic)."""

    def __init__(self, s3: S3Client, location: str) -> None:
        self._s3 = s3
        self._bucket, self._prefix = parse_s3_location(location)
        if self._prefix and not self._prefix.endswith("/"):
            self._prefix += "/"

    @property
    def location(self) -> str:
        return f"s3://{self._bucket}/{self._prefix}"

    def write(self, name: str, data: bytes) -> None:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=self._prefix + name, Body=data)
        except ClientError as error:
            if (why := _permanent(error, UNWRITABLE)) is not None:
                raise OutputUnwritableError(f"cannot write {self.location}: {why}") from None
            raise
