"""Concurrent uploads with hard bounds: at most N requests, C at a time, within a total deadline.

C worker tasks share one request counter, so no more than N requests are ever sent and a run
never outlives its deadline (requests still in flight then are cancelled and counted).
Multipart bodies are encoded once per image up front: the generator usually shares the CPU
with the service it measures, so it must spend as little as possible per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

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

    # One single-connection client per worker task: httpcore's pool checks every connection it
    # holds on every request, so one shared pool of C connections costs O(C) per request.
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(_client(config)) for _ in range(workers)]
        result.started = time.perf_counter()
        deadline = result.started + config.deadline_s

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal next_index
            while next_index < config.requests and time.perf_counter() < deadline:
                index, next_index = next_index, next_index + 1
                item = prepared[index % len(prepared)]
                outcome = await _send(client, url, item, index, deadline)
                result.outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)

        await asyncio.gather(*(worker(client) for client in clients))
        result.finished = time.perf_counter()
        result.not_sent = config.requests - next_index
    return result


def _client(config: LoadConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        timeout=httpx.Timeout(config.request_timeout_s),
        follow_redirects=False,
    )


async def _send(client: httpx.AsyncClient, url: str, item: _Prepared, index: int, deadline: float) -> Outcome:
    started = time.perf_counter()

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
        async with asyncio.timeout_at(_loop_time_of(deadline)):
            response = await client.post(url, content=item.body, headers=item.headers)
    except TimeoutError:
        return outcome(OutcomeKind.DEADLINE, detail="run deadline reached")
    except httpx.TimeoutException as exc:
        return outcome(OutcomeKind.TIMEOUT, detail=type(exc).__name__)
    except (httpx.ConnectError, httpx.UnsupportedProtocol) as exc:
        return outcome(OutcomeKind.CONNECT, detail=f"{type(exc).__name__}: {exc}"[:200])
    except httpx.TransportError as exc:
        return outcome(OutcomeKind.TRANSPORT, detail=f"{type(exc).__name__}: {exc}"[:200])

    status = response.status_code
    if status == 202 or not 200 <= status < 300:
        return outcome(status_kind(status), status=status, detail=error_detail(response))
    try:
        label = parse_label(response, item.image.stem)
    except MalformedAnswerError as exc:
        return outcome(OutcomeKind.MALFORMED, status=status, detail=str(exc))
    if item.expected is not None and label != item.expected:
        return outcome(
            OutcomeKind.WRONG_LABEL, status=status, label=label, detail=f"expected {item.expected!r}"
        )
    return outcome(OutcomeKind.OK, status=status, label=label)


def _loop_time_of(perf_deadline: float) -> float:
    """Convert a perf_counter instant to the running loop's clock."""
    return asyncio.get_running_loop().time() + (perf_deadline - time.perf_counter())
