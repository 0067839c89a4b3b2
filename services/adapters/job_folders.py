"""A batch job's folder as the client names it (relative to the web tier's jobs root, or absolute),
checked to lie under that root: what every backend refuses the same way, word for word (`evision
batch` tells "no jobs root" apart by these words and stages the folder's images instead)."""

from __future__ import annotations

from pathlib import Path

from services.ports.job_locations import JobLocationError


def source_folder(given: str, jobs_root: Path | None) -> str:
    folder = _under_root(given, jobs_root, "source", "reads")
    if not folder.is_dir():
        raise JobLocationError(f"no folder {folder}")
    return str(folder)


def output_folder(given: str, jobs_root: Path | None) -> str:
    """Where to copy the results (created at the end if missing)."""
    return str(_under_root(given, jobs_root, "output", "writes"))


def _under_root(given: str, jobs_root: Path | None, what: str, verb: str) -> Path:
    """`given` (relative to the jobs root, or absolute) resolved, if it lies under the root."""
    if jobs_root is None:
        raise JobLocationError(
            f"this service {verb} no folders: start it with a jobs root (EVISION_JOBS_ROOT)"
        )
    root = jobs_root.resolve()
    folder = (root / given).resolve()  # an absolute `given` stays itself
    if not folder.is_relative_to(root):
        raise JobLocationError(f"{what} must be a folder under the jobs root {root}")
    return folder
