"""The runner and the summary against a real HTTP service on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from services.loadgen import LoadConfig, load_images, run_load, summarize
from services.loadgen.expectations import parse_expectations
from services.loadgen.runner import endpoint_url
from tests.fixtures import FakeService, write_images


def run(config: LoadConfig):  # -> Summary
    return summarize(asyncio.run(run_load(config)))


def test_all_answers_right_cycles_images_and_counts_everything(service: FakeService, tmp_path: Path) -> None:
    images = load_images(write_images(tmp_path, "cat1.jpg", "cat2.png", "dog1.jpeg", "notes.txt"))
    expect = parse_expectations("image_name,label\ncat1.jpg,tabby\ncat2,tabby\ndog1,beagle\n")
    summary = run(LoadConfig(url=service.url, images=images, requests=20, concurrency=4, expectations=expect))

    assert [i.name for i in images] == ["cat1.jpg", "cat2.png", "dog1.jpeg"]
    assert dict(service.stats.by_name) == {"cat1.jpg": 7, "cat2.png": 7, "dog1.jpeg": 6}
    assert (summary.sent, summary.ok, summary.answered, summary.not_sent) == (20, 20, 20, 0)
    assert summary.errors == {}
    assert summary.correctness is not None
    assert (summary.correctness.checked, summary.correctness.correct) == (20, 20)
    assert summary.latency is not None and summary.latency.count == 20
    # Each request takes >= 10 ms on the server; p50 <= p95 <= p99 <= max.
    lat = summary.latency
    assert 10.0 <= lat.p50 <= lat.p95 <= lat.p99 <= lat.max
    assert summary.requests_per_s == pytest.approx(20 / summary.first_to_last_s)


def test_never_more_than_concurrency_in_flight(service: FakeService, tmp_path: Path) -> None:
    images = load_images(write_images(tmp_path, "cat.jpg"))
    summary = run(LoadConfig(url=service.url, images=images, requests=24, concurrency=3))
    assert summary.ok == 24
    assert service.stats.peak_in_flight == 3


def test_errors_are_classified_by_kind(service: FakeService, tmp_path: Path) -> None:
    names = ("bad.jpg", "boom.jpg", "cat.jpg", "dog.jpg", "garbled.jpg", "pending.jpg")
    images = load_images(write_images(tmp_path, *names))
    # dog is expected to be a tabby: a well-formed but wrong answer.
    expect = parse_expectations("cat,tabby\ndog,tabby\n")
    summary = run(LoadConfig(url=service.url, images=images, requests=12, concurrency=6, expectations=expect))

    assert summary.errors == {"http_4xx": 2, "http_5xx": 2, "malformed": 2, "pending": 2, "wrong_label": 2}
    assert summary.ok == 2
    assert summary.answered == 6  # ok + wrong label + malformed were all 2xx
    assert summary.correctness is not None
    assert (summary.correctness.checked, summary.correctness.correct) == (4, 2)
    assert summary.error_examples["http_4xx"][0] == "bad.jpg: 422 not_an_image"
    assert summary.error_examples["http_5xx"][0] == "boom.jpg: 500 internal"
    assert summary.error_examples["wrong_label"][0] == "dog.jpg: expected 'tabby' got 'beagle'"


def test_json_answers_are_read_from_the_classify_endpoint(service: FakeService, tmp_path: Path) -> None:
    images = load_images(write_images(tmp_path, "dog.webp"))
    expect = parse_expectations("dog,beagle\n")
    summary = run(
        LoadConfig(url=f"{service.url}/v1/classify", images=images, requests=3, expectations=expect)
    )
    assert (summary.ok, summary.errors) == (3, {})


def test_request_timeout(service: FakeService, tmp_path: Path) -> None:
    images = load_images(write_images(tmp_path, "slow.jpg"))
    summary = run(
        LoadConfig(url=service.url, images=images, requests=2, concurrency=2, request_timeout_s=0.2)
    )
    assert summary.errors == {"timeout": 2}
    assert summary.latency is None


def test_total_deadline_bounds_the_run(service: FakeService, tmp_path: Path) -> None:
    images = load_images(write_images(tmp_path, "slow.jpg"))
    started = time.perf_counter()
    summary = run(LoadConfig(url=service.url, images=images, requests=1000, concurrency=4, deadline_s=0.5))
    assert time.perf_counter() - started < 3.0
    assert summary.errors == {"deadline": 4}
    assert (summary.sent, summary.not_sent) == (4, 996)
    assert summary.error_count == 1000


def test_connection_refused(closed_port: int, tmp_path: Path) -> None:
    images = load_images(write_images(tmp_path, "cat.jpg"))
    summary = run(LoadConfig(url=f"http://127.0.0.1:{closed_port}", images=images, requests=3))
    assert summary.errors == {"connect": 3}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/upload"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/upload"),
        ("https://example.test/v1/classify", "https://example.test/v1/classify"),
    ],
)
def test_endpoint_url(url: str, expected: str) -> None:
    assert endpoint_url(url) == expected


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/upload", "127.0.0.1:8000", "http:///upload"])
def test_endpoint_url_rejects_non_http(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        endpoint_url(url)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("requests", 0, "requests"), ("concurrency", 0, "concurrency"), ("deadline_s", 0.0, "positive")],
)
def test_config_bounds(tmp_path: Path, field: str, value: float, message: str) -> None:
    images = load_images(write_images(tmp_path, "cat.jpg"))
    base: dict[str, object] = {"url": "http://127.0.0.1:1", "images": images, "requests": 1}
    with pytest.raises(ValueError, match=message):
        LoadConfig(**{**base, field: value})  # type: ignore[arg-type]


def test_a_directory_without_images_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no images"):
        load_images(write_images(tmp_path, "readme.txt"))
