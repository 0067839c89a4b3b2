"""Counts the AWS API requests that reach the emulator, by service and action: what a bill counts.

S3 and SQS bill per request (and CloudWatch per PutMetricData call), so the bill's per-upload
figures must be the code's real calls, not a reading of it. Wrapped around the moto server's WSGI
application, this names each request as the price lists do:
- the service from the SigV4 credential scope (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`);
- the action from `X-Amz-Target` (SQS's and CloudWatch's JSON protocols), an `Action=` parameter
  (the query protocol), or for S3's REST API from the method and the path's shape;
- an SQS ReceiveMessage that returned nothing is `ReceiveMessage:empty` (an idle long poll is a
  cost of time, not of an upload).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RequestTally:
    """A WSGI middleware counting (service, action) pairs; thread-safe; `snapshot()` to read."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._counts)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        body = _read_body(environ)
        service = _service(environ)
        action = _action(service, environ, body)
        chunks = list(self._app(environ, start_response))
        if service == "sqs" and action == "ReceiveMessage" and b'"Messages"' not in b"".join(chunks):
            action = "ReceiveMessage:empty"
        with self._lock:
            self._counts[(service, action)] += 1
        yield from chunks


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back for the application."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = BytesIO(body)
    return body


def _service(environ: dict[str, Any]) -> str:
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else "unsigned"


def _action(service: str, environ: dict[str, Any], body: bytes) -> str:
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return target.rsplit(".", 1)[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    form = parse_qs(body.decode("latin-1"), keep_blank_values=True) if _is_form(environ) else {}
    if "Action" in query or "Action" in form:
        return (query.get("Action") or form["Action"])[0]
    if service == "s3":
        return _s3_action(environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), query, environ)
    return f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '/')}"


def _is_form(environ: dict[str, Any]) -> bool:
    return str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded")


def _s3_action(method: str, path: str, query: dict[str, list[str]], environ: dict[str, Any]) -> str:
    """S3 REST, path-style (how boto3 talks to an endpoint on 127.0.0.1): /bucket[/key]."""
    has_key = "/" in path.strip("/")
    if method == "PUT":
        if not has_key:
            return "CreateBucket" if not query else "PutBucketConfiguration"
        return "CopyObject" if "HTTP_X_AMZ_COPY_SOURCE" in environ else "PutObject"
    if method == "GET":
        if has_key:
            return "GetObject"
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "GetBucketConfiguration"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "DELETE":
        return "DeleteObject" if has_key else "DeleteBucket"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    return f"{method} S3"
