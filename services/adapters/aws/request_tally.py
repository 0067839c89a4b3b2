"""Counts the AWS API requests that reach the emulator, by service and action: what a bill counts.

S3 and SQS bill per request (and CloudWatch per PutMetricData call), so the bill's per-upload
figures must be the code's real calls, not a reading of it. Wrapped around the moto server's WSGI
application, this names each request as the price lists do:
- the service from the SigV4 credential scope (`Credential=KEY/DATE/REGION/SERVICE/aws4_request`,
  in the `Authorization` header or a presigned URL's `X-Amz-Credential`);
- the action from `X-Amz-Target` (SQS's and CloudWatch's JSON protocols), an `Action=` parameter
  (the query protocol), or for S3's REST API from the method and the path's shape;
- an SQS ReceiveMessage that returned nothing is `ReceiveMessage:empty` (an idle long poll is a
  cost of time, not of an upload).

With `calls=True` it also keeps each request as a `Call`: WHO made it (the access key id of its
SigV4 credential, from the `Authorization` header or a presigned URL's `X-Amz-Credential`; each
role's process gets a key id of its own) and ON WHAT (the S3 bucket/key, the SQS queue URL or name,
the CloudWatch namespace, the Auto Scaling group, the SSM parameter). tests/infra/test_iam_services.py
checks every such call against the caller's synthesized IAM policies.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs, unquote

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_KEY_ID = re.compile(r"Credential=([^/,\s]+)/")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class Call:
    """One request as IAM would judge it: who, which service and action, on what."""

    caller: str  # the access key id that signed it ("" if unsigned)
    service: str  # the credential scope's service (s3, sqs, monitoring, autoscaling, ssm, ...)
    action: str  # as the tally names it (e.g. GetObject, SendMessage, PutMetricData)
    resource: str  # s3: "bucket/key" or "bucket"; sqs: the QueueUrl or QueueName; cloudwatch: the
    # namespace; autoscaling: the group name; ssm: the parameter name; "" when the call names none


class RequestTally:
    """A WSGI middleware counting (service, action) pairs; thread-safe; `snapshot()` to read.

    `calls=True`: every request is also kept as a `Call` (`calls()` to read); for tests, since
    the list grows with every request."""

    def __init__(self, app: WsgiApp, *, calls: bool = False) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._keep_calls = calls
        self._calls: list[Call] = []

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self._counts)

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        body = _read_body(environ)
        service = _service(environ)
        action = _action(service, environ, body)
        try:
            chunks = list(self._app(environ, start_response))
        except Exception:
            self._record(environ, body, service, action)  # made, even if the emulator cannot serve it
            raise
        if service == "sqs" and action == "ReceiveMessage" and b'"Messages"' not in b"".join(chunks):
            action = "ReceiveMessage:empty"
        self._record(environ, body, service, action)
        yield from chunks

    def _record(self, environ: dict[str, Any], body: bytes, service: str, action: str) -> None:
        call = _call(environ, body, action) if self._keep_calls else None
        with self._lock:
            self._counts[(service, action)] += 1
            if call is not None:
                self._calls.append(call)


def _call(environ: dict[str, Any], body: bytes, action: str) -> Call:
    key_id = _KEY_ID.search(_signature(environ))
    service = _service(environ)
    return Call(
        caller=key_id.group(1) if key_id else "",
        service=service,
        action=action.removesuffix(":empty"),
        resource=_resource(service, environ, body),
    )


_NAMED_BY = {
    "sqs": ("QueueUrl", "QueueName"),
    "monitoring": ("Namespace",),
    "autoscaling": ("AutoScalingGroupName", "AutoScalingGroupNames.member.1", "AutoScalingGroupNames"),
    "ssm": ("Name",),
}


def _resource(service: str, environ: dict[str, Any], body: bytes) -> str:
    """What the request names: S3 from its path (path-style on 127.0.0.1), the rest from the
    JSON body or the query/form parameters."""
    if service == "s3":
        return unquote(str(environ.get("PATH_INFO", "/"))).strip("/")
    parameters: dict[str, Any] = {}
    if body.startswith(b"{"):
        try:
            parameters = json.loads(body)
        except ValueError:
            parameters = {}
    else:
        form = parse_qs(body.decode("latin-1"), keep_blank_values=True) if _is_form(environ) else {}
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        parameters = {name: values[0] for name, values in {**query, **form}.items()}
    for name in _NAMED_BY.get(service, ()):
        value = parameters.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value:
            return str(value)
    return ""


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back for the application."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = BytesIO(body)
    return body


def _signature(environ: dict[str, Any]) -> str:
    """The SigV4 credential: the `Authorization` header's, or a presigned URL's `X-Amz-Credential`
    (a presigned S3 PUT is an S3 request like any other, signed by whoever presigned it)."""
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    if header:
        return header
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    return "Credential=" + str(query.get("X-Amz-Credential", [""])[0])


def _service(environ: dict[str, Any]) -> str:
    match = _SCOPE.search(_signature(environ))
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
