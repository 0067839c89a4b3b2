"""Where a batch job may read and write is each backend's to say: folders under the jobs root
(local), bucket prefixes (aws). The same refusals, word for word, the clients saw before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.adapters.registry import open_backend
from services.ports.backend import Backend
from services.ports.job_locations import JobLocationError, JobLocations
from tests.fixtures import settings_for


@pytest.fixture
def aws_locations(tmp_path: Path) -> Iterator[JobLocations]:
    backend = open_backend(settings_for("aws", tmp_path))  # the checks call no AWS API
    yield backend.job_locations
    backend.close()


def test_local_folders_must_lie_under_the_jobs_root(local_backend: Backend, tmp_path: Path) -> None:
    locations = local_backend.job_locations
    root = tmp_path / "jobs"
    (root / "photos").mkdir(parents=True)
    assert locations.check_source("photos", root) == str((root / "photos").resolve())
    assert locations.check_source(str(root / "photos"), root) == str((root / "photos").resolve())
    assert locations.check_output("results/photos", root) == str((root / "results/photos").resolve())
    refusals: list[tuple[Callable[[], str], str]] = [
        (lambda: locations.check_source("/etc", root), f"source must be a folder under the jobs root {root}"),
        (lambda: locations.check_source("no-such", root), f"no folder {(root / 'no-such').resolve()}"),
        (
            lambda: locations.check_output("../out", root),
            f"output must be a folder under the jobs root {root}",
        ),
        (
            lambda: locations.check_source("photos", None),
            "this service reads no folders: start it with a jobs root (EVISION_JOBS_ROOT)",
        ),
        (
            lambda: locations.check_output("out", None),
            "this service writes no folders: start it with a jobs root (EVISION_JOBS_ROOT)",
        ),
        (
            lambda: locations.check_source("s3://b/p/", root),
            "the local backend reads folders, not s3:// locations",
        ),
        (
            lambda: locations.check_output("s3://b/p/", root),
            "the local backend writes folders, not s3:// locations",
        ),
    ]
    for refused, reason in refusals:
        with pytest.raises(JobLocationError) as caught:
            refused()
        assert str(caught.value) == reason


def test_aws_takes_bucket_prefixes_as_given_and_reads_no_folders(
    aws_locations: JobLocations, tmp_path: Path
) -> None:
    assert aws_locations.check_source("s3://photos/2026/", None) == "s3://photos/2026/"
    assert aws_locations.check_output("s3://labels/out/", tmp_path) == "s3://labels/out/"
    # `evision batch` stages a folder's images when the refusal names the jobs root
    with pytest.raises(JobLocationError, match=r"^this service reads no folders: start it with a jobs root"):
        aws_locations.check_source("photos", None)
    (tmp_path / "photos").mkdir()
    folder = aws_locations.check_source("photos", tmp_path)
    with pytest.raises(ValueError, match=r"is not s3://bucket/prefix"):
        aws_locations.source(folder)
