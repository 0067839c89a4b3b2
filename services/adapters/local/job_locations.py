"""The local backend's job locations: folders on this machine, under the web tier's jobs root."""

from __future__ import annotations

from pathlib import Path

from services.adapters.job_folders import output_folder, source_folder
from services.adapters.local.folder_source import FolderOutput, FolderSource
from services.ports.job_locations import JobLocationError, JobOutput, JobSource


class LocalJobLocations:
    def check_source(self, given: str, jobs_root: Path | None) -> str:
        _folders_only(given, "reads")
        return source_folder(given, jobs_root)

    def check_output(self, given: str, jobs_root: Path | None) -> str:
        _folders_only(given, "writes")
        return output_folder(given, jobs_root)

    def source(self, location: str) -> JobSource:
        _folders_only(location, "reads")
        return FolderSource(Path(location))

    def output(self, location: str) -> JobOutput:
        _folders_only(location, "writes")
        return FolderOutput(Path(location))


def _folders_only(location: str, verb: str) -> None:
    if "://" in location:
        scheme = location.split("://")[0]
        raise JobLocationError(f"the local backend {verb} folders, not {scheme}:// locations")
