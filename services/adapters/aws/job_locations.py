"""The aws backend's job locations: S3 bucket prefixes (s3://bucket/prefix)."""

from __future__ import annotations

from pathlib import Path

from services.adapters.aws.clients import AwsClients
from services.adapters.aws.prefix_source import PrefixOutput, PrefixSource
from services.adapters.job_folders import output_folder, source_folder
from services.ports.job_locations import JobOutput, JobSource

SCHEME = "s3://"


class PrefixLocations:
    """A prefix passes as given (whether this service may list or write it is S3's answer, asked
    by the caller); a folder is refused as every backend refuses one (no jobs root, not under it,
    missing), else by `source`/`output` (no folders here)."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def check_source(self, given: str, jobs_root: Path | None) -> str:
        return given if given.startswith(SCHEME) else source_folder(given, jobs_root)

    def check_output(self, given: str, jobs_root: Path | None) -> str:
        return given if given.startswith(SCHEME) else output_folder(given, jobs_root)

    def source(self, location: str) -> JobSource:
        return PrefixSource(self._clients.s3(), location)

    def output(self, location: str) -> JobOutput:
        return PrefixOutput(self._clients.s3(), location)
