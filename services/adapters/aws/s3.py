"""Blob store on S3 (or anything that speaks its API at `AWS_ENDPOINT_URL`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from services.adapters.names import check_name
from services.ports import BINARY, Blob, BlobNotFoundError, Metadata

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    @property
    def name(self) -> str:
        return self._bucket

    def put(self, key: str, data: bytes, *, metadata: Metadata = None, content_type: str = BINARY) -> None:
        # S3 user metadata: keys come back lower-cased and values must be ASCII.
        self._client.put_object(
            Bucket=self._bucket,
            Key=check_name(key),
            Body=data,
            Metadata=dict(metadata or {}),
            ContentType=content_type,
        )

    def get(self, key: str) -> Blob:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=check_name(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                raise BlobNotFoundError(f"{self._bucket}/{key}") from None
            raise
        with response["Body"] as body:
            return Blob(data=body.read(), metadata=response.get("Metadata", {}))

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=check_name(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise
        return True

    def keys_between(self, after: str, before: str) -> Iterator[str]:
        # ListObjectsV2 returns keys in ascending UTF-8 order, 1 000 per request, from StartAfter.
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, StartAfter=after)
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"] >= before:
                    return
                yield item["Key"]
