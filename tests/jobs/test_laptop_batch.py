"""`evision batch ./photos --url ...`: a folder on this machine that the service cannot read is
uploaded through the service's signed URLs, then classified as a job, its results fetched.

On `evision up --backend aws --emulate` (S3 presigned PUTs against moto), including a rerun after
the command was killed mid-upload: every image labelled exactly once, nothing complete uploaded
twice. On `evision up` (local backend, no jobs root): the web tier receives the signed PUTs itself.
And the refusals: too many files, an object too large, a key outside the job prefix, a forged
or expired signature, another size than signed.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.commands.batch_upload import local_files, upload_id
from services.web.settings import WebSettings
from tests.fixtures import GOLDEN, RunningUp, clean_environment, golden_bytes, running_up

TIMEOUT = 600  # a loaded machine: the checks wait on states, this only bounds a hang


def make_photos(folder: Path, copies: int) -> dict[str, set[str]]:
    """Copies of the golden images, some nested and some with a space in the name: name -> labels."""
    expected: dict[str, set[str]] = {}
    for n in range(copies):
        for name, labels in GOLDEN.items():
            key = f"{'trip/' if n % 3 == 0 else ''}{n:03d} {name}" if n % 2 else f"{n:03d}-{name}"
            (folder / key).parent.mkdir(parents=True, exist_ok=True)
            (folder / key).write_bytes(golden_bytes(name))
            expected[key] = labels
    return expected


def batch(url: str, folder: Path, out: Path, *options: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "services.cli", "batch", str(folder), "--url", url, "--out", str(out)]
    return subprocess.Popen(
        [*command, "--no-progress", *options],
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def present(url: str, folder: Path) -> int:
    """How many of the folder's files the service has (its own answer, as the command asks it)."""
    files = local_files(folder)
    upload = upload_id(url, folder)
    count = 0
    for start in range(0, len(files), 100):
        ask = {"upload": upload, "files": [{"name": n, "size": s} for n, s in files[start : start + 100]]}
        response = httpx.post(f"{url}/v1/jobs/uploads", json=ask, timeout=60)
        assert response.status_code == 200, response.text
        count += sum(target["present"] for target in response.json()["files"])
    return count


def check_results(out: Path, expected: dict[str, set[str]]) -> None:
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    by_name = {_name(line["key"]): line for line in lines}
    assert len(lines) == len(by_name) == len(expected)  # every image once: none missing, none twice
    for name, labels in expected.items():
        assert by_name[name]["label"] in labels, by_name[name]


def _name(key: str) -> str:
    """The file's name in the folder: an S3 key is `job-uploads/<id>/<name>`."""
    return re.sub(r"^job-uploads/[0-9a-f]{32}/", "", key)


@pytest.fixture(scope="module")
def aws_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningUp]:
    settings = WebSettings.from_values(job_chunk_size=16, job_monitor_seconds=0.5)
    options = ("--workers", "1", "--backend", "aws", "--emulate")
    with running_up(tmp_path_factory.mktemp("data"), *options, settings=settings, timeout=180) as up:
        yield up


def test_a_laptop_folder_killed_mid_upload_resumes_and_every_image_is_labelled_once(
    aws_up: RunningUp, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    expected = make_photos(folder, copies=40)  # 240 images
    out = tmp_path / "results"
    first = batch(aws_up.url, folder, out, "--parallel", "1")
    deadline = time.monotonic() + TIMEOUT
    while (stored := present(aws_up.url, folder)) < 12:  # the upload is under way: kill it
        assert first.poll() is None, first.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    before = present(aws_up.url, folder)
    assert 12 <= stored <= before < len(expected), (stored, before)  # killed mid-upload
    second = batch(aws_up.url, folder, out, "--parallel", "8")
    output, _ = second.communicate(timeout=TIMEOUT)
    assert second.returncode == 0, output
    found = re.search(r"uploaded (\d+) of (\d+) files in ([\d.]+) s \((\d+) already there, skipped\)", output)
    assert found, output
    uploaded, total, seconds, skipped = int(found[1]), int(found[2]), float(found[3]), int(found[4])
    assert total == len(expected) and skipped >= before and uploaded + skipped == total  # nothing twice
    print(f"rerun: {skipped} skipped, {uploaded} uploaded in {seconds:.1f} s ({uploaded / seconds:.0f}/s)")
    check_results(out, expected)
    # A third run: everything is there, the same job answers (its results again, nothing uploaded).
    third = batch(aws_up.url, folder, tmp_path / "again")
    output, _ = third.communicate(timeout=TIMEOUT)
    assert third.returncode == 0 and f"uploaded 0 of {total} files" in output, output
    check_results(tmp_path / "again", expected)


def test_what_an_upload_may_not_do_is_a_clear_4xx(aws_up: RunningUp) -> None:
    url = f"{aws_up.url}/v1/jobs/uploads"
    upload = "ab" * 16

    def ask(*files: tuple[str, int]) -> httpx.Response:
        body = {"upload": upload, "files": [{"name": n, "size": s} for n, s in files]}
        return httpx.post(url, json=body, timeout=60)

    many = ask(*((f"{n}.jpg", 10) for n in range(101)))
    assert many.status_code == 422 and "at most 100" in many.json()["reason"], many.text
    large = ask(("huge.jpg", 10 * 1024 * 1024 + 1))
    assert large.status_code == 413 and large.json()["error"] == "too_large", large.text
    for outside in ("../escape.jpg", "/etc/passwd", "a/../../b.jpg", "a//b.jpg", ".hidden", "a\\b.jpg"):
        refused = ask((outside, 10))
        assert refused.status_code == 422, (outside, refused.text)
        assert "outside the job prefix" in refused.json()["reason"], refused.text
    bad_id = httpx.post(url, json={"upload": "../x", "files": [{"name": "a.jpg", "size": 1}]}, timeout=60)
    assert bad_id.status_code == 422 and bad_id.json()["error"] == "invalid_request"
    signed = ask(("a.jpg", 10)).json()["files"][0]
    assert "X-Amz-SignedHeaders=content-length%3Bhost" in signed["url"]  # the size is signed
    assert "X-Amz-Expires=9" in signed["url"] or "X-Amz-Expires=8" in signed["url"]  # ~900 s


KEY = "laptop-key-0123456789abcdef0123"


@pytest.fixture(scope="module")
def local_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningUp]:
    keys = tmp_path_factory.mktemp("keys") / "api-keys"
    keys.write_text(f"{KEY}\n")
    settings = WebSettings.from_values(job_chunk_size=16, job_monitor_seconds=0.5, api_keys_file=keys)
    with running_up(tmp_path_factory.mktemp("data"), "--workers", "1", settings=settings) as up:
        yield up  # no jobs root: it reads no folder of its own


def test_on_evision_up_the_web_tier_receives_the_upload_under_the_api_key(
    local_up: RunningUp, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    expected = make_photos(folder, copies=6)
    out = tmp_path / "results"
    unkeyed = batch(local_up.url, folder, out)
    output, _ = unkeyed.communicate(timeout=TIMEOUT)
    assert unkeyed.returncode == 2 and "401" in output, output
    first = batch(local_up.url, folder, out, "--api-key", KEY)
    output, _ = first.communicate(timeout=TIMEOUT)
    assert first.returncode == 0, output
    assert f"uploaded {len(expected)} of {len(expected)} files" in output, output
    check_results(out, expected)
    again = batch(local_up.url, folder, tmp_path / "again", "--api-key", KEY)
    output, _ = again.communicate(timeout=TIMEOUT)
    assert again.returncode == 0 and f"uploaded 0 of {len(expected)} files" in output, output


def test_the_web_tier_refuses_a_forged_signature_another_size_and_too_much(local_up: RunningUp) -> None:
    client = httpx.Client(base_url=local_up.url, headers={"X-API-Key": KEY}, timeout=60)
    upload = "cd" * 16
    body = {"upload": upload, "files": [{"name": "one.jpg", "size": 5}]}
    target = client.post("/v1/jobs/uploads", json=body).json()["files"][0]
    assert target["url"].startswith(f"/v1/jobs/uploads/{upload}/one.jpg?")
    forged = re.sub(r"signature=[0-9a-f]+", "signature=" + "0" * 64, target["url"])
    refused = client.put(forged, content=b"12345")
    assert refused.status_code == 403 and "signature" in refused.json()["reason"], refused.text
    longer = re.sub(r"expires=\d+", f"expires={int(time.time()) + 10**6}", target["url"])
    assert client.put(longer, content=b"12345").status_code == 403  # the expiry is signed too
    elsewhere = target["url"].replace("one.jpg", "two.jpg")
    assert client.put(elsewhere, content=b"12345").status_code == 403  # so is the key
    shorter = client.put(target["url"], content=b"1234")
    assert shorter.status_code == 403 and "signed for 5 bytes" in shorter.json()["reason"], shorter.text
    more = client.put(target["url"], content=b"123456")
    assert more.status_code == 413 and more.json()["error"] == "too_large", more.text
    outside = client.put(f"/v1/jobs/uploads/{upload}/..%2F..%2Fx?size=1&expires=9999999999&signature=00")
    assert outside.status_code in (403, 404, 422), outside.text
    done = client.put(target["url"], content=b"12345")
    assert done.status_code == 204, done.text
    assert client.post("/v1/jobs/uploads", json=body).json()["files"][0]["present"] is True
