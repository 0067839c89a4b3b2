"""A request or a job pins the fp32 reference on `evision up` (local backend, real web and worker
processes) whose workers run int8: the upload that pins fp32 (query parameter or form field) is
classified by ONNX Runtime fp32 and its result says so, with the right label; one that pins
nothing gets the worker's int8; an unknown precision is a 422, and int8 on a model without an
int8 variant a 422 that says so; `evision batch --precision fp32` gives fp32 results."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from model import MODEL_DIR, load_metadata
from services.adapters.local.model_registry import LocalModelRegistry
from services.models.registration import register
from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings
from tests.fixtures import GOLDEN, RunningUp, golden_bytes, renamed_model, running_up

DEFAULT = load_metadata(MODEL_DIR / "metadata.json").short_name
IMAGE = next(iter(GOLDEN))


@pytest.fixture(scope="module")
def jobs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jobs-root")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def service(data_dir: Path, jobs_root: Path) -> Iterator[RunningUp]:
    # The workers' engine is int8 outright (not auto's measured choice), so an fp32 answer can
    # only come from the pin. A long wait: a loaded machine answers late, never 202 here.
    web = WebSettings.from_values(jobs_root=jobs_root, job_monitor_seconds=0.5, wait_seconds=300)
    worker = WorkerSettings.from_values(engine="onnxruntime-int8")
    with running_up(data_dir, "--workers", "1", settings=[web, worker], timeout=180) as up:
        yield up


def _classify(
    url: str, params: dict[str, str] | None = None, data: dict[str, str] | None = None
) -> httpx.Response:
    files = {"myfile": (IMAGE, golden_bytes(IMAGE))}
    return httpx.post(f"{url}/v1/classify", params=params, data=data, files=files, timeout=360)


def test_an_upload_that_pins_fp32_is_classified_by_the_fp32_reference(service: RunningUp) -> None:
    for pinned in (
        _classify(service.url, params={"precision": "fp32"}),
        _classify(service.url, data={"precision": "fp32"}),
    ):
        assert pinned.status_code == 200, pinned.text
        assert pinned.json()["model"] == f"{DEFAULT} onnxruntime-fp32"
        assert pinned.json()["label"] in GOLDEN[IMAGE]
    unpinned = _classify(service.url)
    assert unpinned.status_code == 200, unpinned.text
    assert unpinned.json()["model"] == f"{DEFAULT} onnxruntime-int8"  # the worker's own engine
    assert unpinned.json()["label"] in GOLDEN[IMAGE]


def test_an_unknown_precision_is_a_422_with_error_and_reason(service: RunningUp) -> None:
    for refused in (
        _classify(service.url, params={"precision": "bf16"}),
        _classify(service.url, data={"precision": "bf16"}),
    ):
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert (
            body["error"] == "invalid_request" and "precision" in body["reason"] and "fp32" in body["reason"]
        )


def test_int8_on_a_model_without_an_int8_variant_is_a_422_saying_so(
    service: RunningUp, data_dir: Path, tmp_path: Path
) -> None:
    plain = renamed_model(tmp_path, "lite0-plain")
    manifest = json.loads((plain / "metadata.json").read_text())
    (plain / manifest.pop("variants")["int8"]["file"]).unlink()
    (plain / "metadata.json").write_text(json.dumps(manifest))
    entry, report = register(plain, LocalModelRegistry(data_dir))
    assert entry is not None, report.failures
    refused = _classify(service.url, params={"model": entry.ref, "precision": "int8"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "invalid_request" and "no int8 variant" in refused.json()["reason"]
    served = _classify(service.url, params={"model": entry.ref, "precision": "fp32"})
    assert served.status_code == 200 and served.json()["model"] == f"{entry.ref} onnxruntime-fp32", (
        served.text
    )


def test_a_batch_that_pins_fp32_gives_fp32_results(
    service: RunningUp, jobs_root: Path, tmp_path: Path
) -> None:
    photos = jobs_root / "photos"
    photos.mkdir()
    for name in GOLDEN:
        (photos / name).write_bytes(golden_bytes(name))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "services.cli", "batch", str(photos), "--out", str(out)]
    command += ["--url", service.url, "--precision", "fp32", "--no-progress", "--timeout", "600"]
    batch = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert batch.returncode == 0, batch.stderr
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(line["key"] for line in lines) == sorted(GOLDEN)
    for line in lines:
        assert line["model"] == f"{DEFAULT} onnxruntime-fp32" and line["label"] in GOLDEN[line["key"]], line
