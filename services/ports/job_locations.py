"""The job-locations role: where a batch job's images come from and where its results go."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class SourceUnreadableError(Exception):
    """A batch job's source this service cannot list: no such bucket, or no permission."""


class OutputUnwritableError(Exception):
    """A batch job's output location this service cannot write: no such bucket, no permission."""


class JobLocationError(ValueError):
    """A location the service may not use (outside the jobs root, or of the other backend's kind)."""


class JobOutput(Protocol):
    """Where a finished job's results are copied (a folder, or a bucket prefix): whole files."""

    @property
    def location(self) -> str: ...

    def write(self, name: str, data: bytes) -> None:
        """Write `name` under the location, atomically (a reader never sees half a file).
        OutputUnwritableError where it cannot (no such bucket or folder, no permission)."""
        ...


class JobSource(Protocol):
    """Where a batch job's images come from (read-only): a bucket prefix or a local folder."""

    @property
    def location(self) -> str: ...

    def keys_after(self, cursor: str) -> Iterator[str]:
        """The source's image keys above `cursor` ("" for all), in ascending order.
        SourceUnreadableError where it cannot be listed (no such bucket, no permission)."""
        ...

    def read(self, key: str) -> bytes:
        """Raises BlobNotFoundError when the key is gone."""
        ...


class JobLocations(Protocol):
    """The job-locations role of a backend: the kinds of location its batch jobs read and write
    (aws: s3://bucket/prefix; local: folders under the web tier's jobs root)."""

    def check_source(self, given: str, jobs_root: Path | None) -> str:
        """`given` (a job's source as the client wrote it) as `source` reads it, or
        JobLocationError saying why it is refused (a folder outside `jobs_root`, or none given)."""
        ...

    def check_output(self, given: str, jobs_root: Path | None) -> str:
        """`given` (a job's output) as `output` writes it, or JobLocationError saying why not."""
        ...

    def source(self, location: str) -> JobSource:
        """The images of `location` (aws: s3://bucket/prefix; local: an absolute folder path);
        raises ValueError for a location this backend cannot read."""
        ...

    def output(self, location: str) -> JobOutput:
        """Where results go (aws: s3://bucket/prefix; local: an absolute folder, created if
        missing); raises ValueError for a location this backend cannot write."""
        ...
