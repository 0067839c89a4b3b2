"""Concurrent uploads with hard bounds: at most N requests, C at a time, within a total deadline.

C worker tasks share one request counter, so no more than N requests are ever sent and a run
never outlives its deadline (requests still in flight then are cancelled and counted).
The generator usually shares the CPU with the service it measures, so it must spend as little
as possible per request: multipart bodies are encoded once per image up front, and the client
is aiohttp (measured here at ~0.3-0.8 ms CPU per upload, against ~2-3 ms for httpx).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import httpx

from services.loadgen.answers import (
    ANSWER_KINDS,
    MalformedAnswerError,
    OutcomeKind,
    error_detail,
    parse_label,
    status_kind,
)
from services.loadgen.expectations import Expectations
from services.loadgen.images import UploadImage

MAX_REQUESTS = 1_000_000
MAX_CONCURRENCY = 1024


@dataclass(frozen=True, slots=True)
class LoadConfig:
    url: str  # the upload endpoint; a bare base URL means `/upload`
    images: Sequence[UploadImage]
    requests: int
    concurrency: int = 8
    deadline_s: float = 300.0  # total time cap for the run
    request_timeout_s: float = 60.0
    field_name: str = "myfile"
    expectations: Expectations | None = None

    def __post_init__(self) -> None:
        if not self.images:
            raise ValueError("no images to upload")
        if not 1 <= self.requests <= MAX_REQUESTS:
            raise ValueError(f"requests must be within 1..{MAX_REQUESTS}")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be within 1..{MAX_CONCURRENCY}")
        if self.deadline_s <= 0 or self.request_timeout_s <= 0:
            raise ValueError("deadline and request timeout must be positive")
        endpoint_url(self.url)  # validates


@dataclass(frozen=True, slots=True)
class Outcome:
    index: int
    image: str
    kind: OutcomeKind
    started: float  # time.perf_counter()
    finished: float
    status: int | None = None
    label: str | None = None
    expected: str | None = None
    detail: str = ""

    @property
    def latency_s(self) -> float:
        return self.finished - self.started

    @property
    def answered(self) -> bool:
        """The service produced an answer (right, wrong or malformed); latencies are over these."""
        return self.kind in ANSWER_KINDS


@dataclass(slots=True)
class LoadResult:
    config: LoadConfig
    outcomes: list[Outcome] = field(default_factory=list)
    started: float = 0.0  # perf_counter when the run began
    finished: float = 0.0
    not_sent: int = 0  # requests never started because the deadline came first


def endpoint_url(url: str) -> str:
    """`url` with `/upload` as the path when it has none; raises ValueError unless http(s) with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    if parts.path in ("", "/"):
        parts = parts._replace(path="/upload")
    return urlunsplit(parts)


@dataclass(frozen=True, slots=True)
class _Prepared:
    image: UploadImage
    body: bytes
    headers: dict[str, str]
    expected: str | None


def _prepare(config: LoadConfig, url: str) -> list[_Prepared]:
    prepared = []
    for image in config.images:
        # httpx only encodes the multipart body here (a public, well-tested encoder); it sends nothing.
        files = {config.field_name: (image.name, image.data, image.content_type)}
        request = httpx.Request("POST", url, files=files)
        body = request.read()
        expected = config.expectations.expected(image.name) if config.expectations else None
        headers = {"content-type": request.headers["content-type"]}
        prepared.append(_Prepared(image, body, headers, expected))
    return prepared


async def run_load(config: LoadConfig, on_outcome: Callable[[Outcome], None] | None = None) -> LoadResult:
    """Send `config.requests` uploads, cycling through the images; every answer is checked."""
    url = endpoint_url(config.url)
    prepared = _prepare(config, url)
    result = LoadResult(config)
    next_index = 0
    workers = min(config.concurrency, config.requests)
    connector = aiohttp.TCPConnector(limit=workers, limit_per_host=workers)
    # Timeouts are enforced per request in _send (to tell a request timeout from the run's deadline).
    timeout = aiohttp.ClientTimeout(total=None)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        result.started = time.perf_counter()
        deadline = result.started + config.deadline_s

        async def worker() -> None:
            nonlocal next_index
            while next_index < config.requests and time.perf_counter() < deadline:
                index, next_index = next_index, next_index + 1
                item = prepared[index % len(prepared)]
                outcome = await _send(session, url, item, index, deadline, config.request_timeout_s)
                result.outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)

        await asyncio.gather(*(worker() for _ in range(workers)))
        result.finished = time.perf_counter()
        result.not_sent = config.requests - next_index
    return result


async def _send(
    session: aiohttp.ClientSession,
    url: str,
    item: _Prepared,
    index: int,
    deadline: float,
    request_timeout: float,
) -> Outcome:
    started = time.perf_counter()
    remaining = deadline - started
    deadline_binds = remaining < request_timeout

    def outcome(
        kind: OutcomeKind, *, status: int | None = None, label: str | None = None, detail: str = ""
    ) -> Outcome:
        return Outcome(
            index=index,
            image=item.image.name,
            kind=kind,
            started=started,
            finished=time.perf_counter(),
            status=status,
            label=label,
            expected=item.expected,
            detail=detail,
        )

    try:
        async with asyncio.timeout(min(remaining, request_timeout)):
            async with session.post(
                url, data=item.body, headers=item.headers, allow_redirects=False
            ) as response:
                status = response.status
                content_type = response.headers.get("content-type", "")
                body = await response.read()
    except TimeoutError:
        if deadline_binds:
            return outcome(OutcomeKind.DEADLINE, detail="run deadline reached")
        return outcome(OutcomeKind.TIMEOUT, detail=f"no answer within {request_timeout:g} s")
    except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
        return outcome(OutcomeKind.CONNECT, detail=f"{type(exc).__name__}: {exc}"[:200])
    except aiohttp.ClientError as exc:
        return outcome(OutcomeKind.TRANSPORT, detail=f"{type(exc).__name__}: {exc}"[:200])

    if status == 202 or not 200 <= status < 300:
        return outcome(status_kind(status), status=status, detail=error_detail(status, body))
    try:
        label = parse_label(content_type, body, item.image.stem)
    except MalformedAnswerError as exc:
        return outcome(OutcomeKind.MALFORMED, status=status, detail=str(exc))
    if item.expected is not None and label != item.expected:
        return outcome(
            OutcomeKind.WRONG_LABEL, status=status, label=label, detail=f"expected {item.expected!r}"
        )
    return outcome(OutcomeKind.OK, status=status, label=label)
