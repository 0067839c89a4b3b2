"""The aws backend's job locations: S3 bucket prefixes (s3://bucket/prefix)."""

from __future__ import annotations

from services.adapters.aws.clients import AwsClients
from services.adapters.aws.prefix_source import PrefixOutput, PrefixSource
from services.ports.job_locations import JobOutput, JobSource


class PrefixLocations:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def source(self, location: str) -> JobSource:
        return PrefixSource(self._clients.s3(), location)

    def output(self, location: str) -> JobOutput:
        return PrefixOutput(self._clients.s3(), location)
