"""The local backend's job locations: folders on this machine."""

from __future__ import annotations

from pathlib import Path

from services.adapters.local.folder_source import FolderOutput, FolderSource
from services.ports.job_locations import JobOutput, JobSource


class LocalJobLocations:
    def source(self, location: str) -> JobSource:
        if "://" in location:
            raise ValueError(f"the local backend reads folders, not {location.split('://')[0]}:// locations")
        return FolderSource(Path(location))

    def output(self, location: str) -> JobOutput:
        if "://" in location:
            raise ValueError(f"the local backend writes folders, not {location.split('://')[0]}:// locations")
        return FolderOutput(Path(location))
