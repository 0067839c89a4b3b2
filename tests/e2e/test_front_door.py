"""The front door over real HTTP: API keys (401) and the per-client rate limit (429 + Retry-After)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.web.front_door.api_keys import ApiKeys, parse_keys
from services.web.front_door.rate_limit import RateLimiter
from services.web.settings import WebSettings
from tests.fixtures import GOLDEN, clean_environment, free_port, golden_bytes, running_up, up_command

UPLOADER = "k-uploader-0123456789abcdef"
POLLER = "k-poller-0123456789abcdef"


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("front-door")
    keys = root / "api-keys"
    keys.write_text(f"# one key per line\n{UPLOADER}\n{POLLER}  # the rate-limit test's\n")
    settings = WebSettings.from_values(api_keys_file=keys, rate_limit_per_second=0.5, rate_limit_burst=3)
    with running_up(root / "data", "--workers", "1", settings=settings) as up:
        yield up.url
    assert "API keys on: 2 valid keys" in up.output, up.output[-2000:]


def upload(url: str, headers: dict[str, str]) -> httpx.Response:
    files = {"file": ("cat.jpg", golden_bytes("cat.jpg"))}
    return httpx.post(f"{url}/v1/classify", files=files, headers=headers, timeout=60)


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "not-a-key-but-long-enough"}], ids=["none", "wrong"])
def test_a_missing_or_wrong_key_is_a_401_json_error(door: str, headers: dict[str, str]) -> None:
    answer = upload(door, headers)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized" and "X-API-Key" in answer.json()["reason"]
    assert answer.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'


def test_the_right_key_is_served(door: str) -> None:
    answer = upload(door, {"X-API-Key": UPLOADER})
    assert answer.status_code == 200 and answer.json()["label"] in GOLDEN["cat.jpg"]


def test_the_page_docs_and_health_check_stay_open(door: str) -> None:
    for path in ("/", "/healthz", "/docs", "/openapi.json"):
        assert httpx.get(f"{door}{path}", timeout=10).status_code == 200, path
    assert httpx.get(f"{door}/v1/status", timeout=10).status_code == 401


def test_a_client_over_its_rate_gets_429_with_retry_after_then_is_served_again(door: str) -> None:
    headers = {"X-API-Key": POLLER}
    answers = [httpx.get(f"{door}/v1/results/{'0' * 32}", headers=headers, timeout=10) for _ in range(5)]
    statuses = [a.status_code for a in answers]
    assert statuses[:3] == [404, 404, 404] and statuses[3:] == [429, 429], statuses  # burst 3
    limited = answers[3]
    assert limited.json()["error"] == "rate_limited"
    wait = int(limited.headers["retry-after"])
    assert 1 <= wait <= 2  # one token per 2 s
    # Another client is not affected; after Retry-After this one is served again.
    assert httpx.get(f"{door}/v1/results/{'0' * 32}", headers={"X-API-Key": UPLOADER}).status_code == 404
    time.sleep(wait)
    assert httpx.get(f"{door}/v1/results/{'0' * 32}", headers=headers, timeout=10).status_code == 404


def test_keys_are_parsed_checked_in_constant_time_and_must_be_long() -> None:
    keys = ApiKeys(parse_keys(f"{UPLOADER}, {POLLER}\n# comment\n"))
    assert len(keys) == 2 and keys.valid(POLLER) and not keys.valid(POLLER[:-1]) and not keys.valid(None)
    with pytest.raises(ValueError, match="shorter than 16"):
        ApiKeys(["short"])
    with pytest.raises(ValueError, match="none is configured"):
        ApiKeys(parse_keys("# no keys\n"))


def test_the_rate_limiter_refills_and_forgets_the_oldest_client_past_its_bound() -> None:
    limiter = RateLimiter(rate=2, burst=2, max_clients=2)
    assert [limiter.retry_after("a", now=0.0) for _ in range(3)] == [0, 0, 1]
    assert limiter.retry_after("a", now=0.5) == 0  # one token back after 0.5 s at 2/s
    limiter.retry_after("b", now=0.5)
    limiter.retry_after("c", now=0.5)  # "a" is evicted: it starts again with a full bucket
    assert limiter.retry_after("a", now=0.5) == 0


@pytest.mark.parametrize("processes", ["1", "2"])
def test_an_unreadable_key_file_stops_the_web_tier_with_the_reason(tmp_path: Path, processes: str) -> None:
    short = tmp_path / "keys"
    short.write_text("short\n")
    settings = WebSettings.from_values(api_keys_file=short)
    web = subprocess.run(
        [*up_command(free_port(), tmp_path / "d", "--workers", "0", "--web-processes", processes)],
        env=clean_environment(**settings.environment(explicit_only=True)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert web.returncode != 0
    assert "shorter than 16 characters" in web.stdout + web.stderr
