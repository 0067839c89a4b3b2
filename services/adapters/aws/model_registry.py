"""The cloud's model registry: `models/<name>@<version>/<file>` objects in the output bucket."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from services.adapters.model_entry import ENTRY, entry_from, entry_json
from services.ports.models import RegisteredModel

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PREFIX = "models/"


class S3ModelRegistry:
    def __init__(self, s3: Callable[[], S3Client], bucket: str) -> None:
        self._client = s3  # the backend's client, made on first use
        self._bucket = bucket

    @property
    def _s3(self) -> S3Client:
        return self._client()

    def publish(self, entry: RegisteredModel, folder: Path, files: Sequence[str]) -> None:
        for relative in files:
            self._s3.upload_file(str(folder / relative), self._bucket, f"{PREFIX}{entry.ref}/{relative}")
        self._s3.put_object(Bucket=self._bucket, Key=f"{PREFIX}{entry.ref}/{ENTRY}", Body=entry_json(entry))

    def entries(self) -> list[RegisteredModel]:
        found = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=PREFIX)
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"].endswith(f"/{ENTRY}"):
                    body = self._s3.get_object(Bucket=self._bucket, Key=item["Key"])["Body"].read()
                    found.append(entry_from(body))
        return sorted(found, key=lambda e: (e.name, e.added_at))

    def download(self, ref: str, into: Path) -> Path:
        prefix = f"{PREFIX}{ref}/"
        target = into / ref.replace("@", "-at-")
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        if f"{prefix}{ENTRY}" not in keys:
            raise LookupError(f"no model {ref} in s3://{self._bucket}/{PREFIX}")
        for key in keys:
            path = target / key.removeprefix(prefix)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._s3.download_file(self._bucket, key, str(path))
        return target
