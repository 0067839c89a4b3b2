"""Blob store on S3 (or anything that speaks its API at `AWS_ENDPOINT_URL`)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from services.adapters.names import check_name
from services.ports.staging import SignedPut
from services.ports.storage import BINARY, Blob, BlobNotFoundError, Metadata

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore:
    """A bucket; also a `JobStaging` role: clients PUT staged job images straight to S3 with
    presigned URLs (SigV4, Content-Length among the signed headers: S3 refuses another size)."""

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

    # -- JobStaging ------------------------------------------------------------------------------
    def staging_location(self, prefix: str) -> str:
        return f"s3://{self._bucket}/{prefix}"

    def staged_sizes(self, prefix: str, names: Sequence[str]) -> dict[str, int]:
        if not names:
            return {}
        wanted = {prefix + name: name for name in names}
        first, last = min(wanted), max(wanted)
        # One listing from just below the first wanted key to the last (StartAfter is exclusive).
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix, StartAfter=first[:-1]
        )
        sizes: dict[str, int] = {}
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"] > last:
                    return sizes
                if item["Key"] in wanted:
                    sizes[wanted[item["Key"]]] = item["Size"]
        return sizes

    def sign_put(self, key: str, size: int, expires_at: int) -> SignedPut:
        # The signer's own permissions travel with the URL (the web role: s3:PutObject on this
        # bucket's objects); S3 checks the signature, the expiry and the signed Content-Length.
        url = self._client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": key, "ContentLength": size},
            ExpiresIn=max(1, expires_at - int(time.time())),
        )
        return SignedPut(url=url, headers={"Content-Length": str(size)})
