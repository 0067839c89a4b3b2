"""The web tier through its real ASGI app on the local backend, without workers.

Covers validation before queuing, what a submission stores and sends, the 202 path, the results
endpoint and the small pages. Classification itself is tested end to end in tests/e2e.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from services.adapters.registry import open_backend
from services.contract import ErrorKind, LabelScore, RequestMessage, Result, ResultError
from services.ports.storage import MessageQueue
from services.web.deps import WebParts
from services.web.main import create_app
from services.web.settings import WebSettings
from tests.fixtures import settings_for

LIMIT = 50_000


def _jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def settings(tmp_path: Path) -> WebSettings:
    base = settings_for("local", tmp_path / "data").model_dump()
    return WebSettings.model_validate(
        {**base, "reply_queue_prefix": "web-replies", "wait_seconds": 0.3, "max_upload_bytes": LIMIT}
    )


@pytest.fixture
def client(settings: WebSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def requests(settings: WebSettings, client: TestClient) -> Iterator[MessageQueue]:
    """The request queue, seen from outside the app (after the app made it)."""
    backend = open_backend(settings)
    yield backend.storage.queue(settings.request_queue)
    backend.close()


def _parts(client: TestClient) -> WebParts:
    parts: WebParts = client.app.state.parts  # type: ignore[attr-defined]
    return parts


def _nothing_queued(requests: MessageQueue) -> bool:
    return requests.depth().outstanding == 0


def test_health_index_and_docs(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "backend": "local", "reply_consumer": True}
    index = client.get("/")
    assert index.status_code == 200 and "<form" in index.text and "/v1/classify" in index.text
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/upload", "/v1/classify", "/v1/results/{request_id}", "/healthz"} <= set(paths)
    schema = paths["/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(schema["properties"]) == {"myfile", "inputFile", "file", "model", "precision"}


@pytest.mark.parametrize(
    ("files", "status", "kind"),
    [
        ({"myfile": ("a.jpg", b"", "image/jpeg")}, 400, ErrorKind.EMPTY),
        ({"myfile": ("a.jpg", b"x" * (LIMIT + 1), "image/jpeg")}, 413, ErrorKind.TOO_LARGE),
        ({"myfile": ("a.jpg", b"%PDF-1.7 not an image at all", "image/jpeg")}, 415, ErrorKind.NOT_AN_IMAGE),
        ({"picture": ("a.jpg", _jpeg(), "image/jpeg")}, 400, "missing_field"),
    ],
    ids=["empty", "oversize", "not-an-image", "missing-field"],
)
@pytest.mark.parametrize("path", ["/upload", "/v1/classify"])
def test_bad_uploads_are_refused_before_queuing(
    client: TestClient,
    requests: MessageQueue,
    path: str,
    files: dict[str, tuple[str, bytes, str]],
    status: int,
    kind: str,
) -> None:
    response = client.post(path, files=files)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == kind and body["reason"]
    assert _nothing_queued(requests)


def test_a_field_that_is_not_a_file_is_missing(client: TestClient) -> None:
    response = client.post("/upload", data={"myfile": "cat.jpg"}, files={"other": ("x", b"1", "text/plain")})
    assert response.status_code == 400 and response.json()["error"] == "missing_field"
    assert "myfile, inputFile, file" in response.json()["reason"]


def test_not_multipart_is_refused(client: TestClient, requests: MessageQueue) -> None:
    response = client.post("/upload", content=_jpeg(), headers={"content-type": "image/jpeg"})
    assert response.status_code == 400 and response.json()["error"] == "not_multipart"
    assert _nothing_queued(requests)


def test_malformed_multipart_is_refused(client: TestClient, requests: MessageQueue) -> None:
    boundary = "b0undary"
    cut_off = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="myfile"; filename="a.jpg"\r\n\r\n'
    ).encode() + _jpeg()  # no closing boundary: the image may be incomplete
    response = client.post(
        "/upload", content=cut_off, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 400 and response.json()["error"] == "bad_form"
    assert "closing boundary" in response.json()["reason"]
    assert _nothing_queued(requests)


def test_oversize_stream_without_content_length_is_cut_off(
    client: TestClient, requests: MessageQueue
) -> None:
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="myfile"; filename="big.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    chunks_sent = 0

    def body() -> Iterator[bytes]:
        nonlocal chunks_sent
        yield head + _jpeg()
        for _ in range(1000):  # 64 MB if nobody stops reading
            chunks_sent += 1
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/upload", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert _nothing_queued(requests)


@pytest.mark.parametrize("field", ["myfile", "inputFile", "file"])
def test_accepted_upload_is_stored_queued_and_answered_202_without_a_worker(
    client: TestClient, requests: MessageQueue, field: str
) -> None:
    image = _jpeg()
    response = client.post("/upload", files={field: ("../..\\dir/Caf\u00e9 cat.jpg", image, "text/plain")})
    assert response.status_code == 202
    body = response.json()
    request_id = body["id"]
    assert response.headers["location"] == body["location"] == f"/v1/results/{request_id}"

    submitter = _parts(client).submitter
    stored = submitter.inputs.get(request_id)  # the key is the request id, never the file name
    assert stored.data == image
    assert stored.metadata["filename"] == "Caf%C3%A9 cat.jpg" and stored.metadata["filename"].isascii()
    [message] = requests.receive(10, wait_seconds=1)
    request = RequestMessage.model_validate_json(message.body)
    assert (request.id, request.image, request.reply_to) == (
        request_id,
        "Caf\u00e9 cat.jpg",
        submitter.reply_queue,
    )
    assert re.fullmatch(r"web-replies-[0-9a-f]{12}", submitter.reply_queue)  # this process's own

    pending = client.get(body["location"])
    assert pending.status_code == 202 and pending.json()["status"] == "pending"


@pytest.mark.parametrize(
    ("params", "data", "pinned"),
    [({"precision": "fp32"}, {}, "fp32"), ({}, {"precision": "int8"}, "int8"), ({}, {}, "auto")],
    ids=["query", "form-field", "none"],
)
def test_a_pinned_precision_travels_with_the_request_and_its_stored_input(
    client: TestClient, requests: MessageQueue, params: dict[str, str], data: dict[str, str], pinned: str
) -> None:
    response = client.post("/v1/classify", params=params, data=data, files={"myfile": ("a.jpg", _jpeg())})
    assert response.status_code == 202, response.text
    [message] = requests.receive(10, wait_seconds=1)
    assert RequestMessage.model_validate_json(message.body).precision == pinned
    stored = _parts(client).submitter.inputs.get(response.json()["id"])
    assert stored.metadata.get("precision", "auto") == pinned  # a request sent again pins it too


@pytest.mark.parametrize(("params", "data"), [({"precision": "fp16"}, {}), ({}, {"precision": "fp16"})])
def test_an_unknown_precision_is_a_422_before_queuing(
    client: TestClient, requests: MessageQueue, params: dict[str, str], data: dict[str, str]
) -> None:
    response = client.post("/upload", params=params, data=data, files={"myfile": ("a.jpg", _jpeg())})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request" and "precision" in body["reason"]
    assert "fp32" in body["reason"]  # the accepted values are named
    assert _nothing_queued(requests)


def test_results_endpoint_reads_the_output_bucket(client: TestClient) -> None:
    outputs = _parts(client).outputs
    done = Result(
        id="1" * 32,
        image="cat.jpg",
        label="tabby",
        score=0.8,
        top5=[LabelScore(label="tabby", score=0.8)],
        model="m",
        timings={"total": 12.0},
    )
    failed = Result(id="2" * 32, image="x.jpg", error=ResultError(kind=ErrorKind.TRUNCATED, reason="cut"))
    broken = Result(
        id="3" * 32, image="y.jpg", error=ResultError(kind=ErrorKind.MISSING_INPUT, reason="gone")
    )
    for result in (done, failed, broken):
        outputs.put(result.id, result.model_dump_json().encode())

    ok = client.get(f"/v1/results/{done.id}")
    assert ok.status_code == 200
    assert ok.json() == json.loads(
        done.model_dump_json(include={"id", "image", "label", "score", "top5", "model", "timings"})
    )
    bad = client.get(f"/v1/results/{failed.id}")
    assert bad.status_code == 422 and bad.json() == {"error": "truncated", "reason": "cut", "id": failed.id}
    assert client.get(f"/v1/results/{broken.id}").status_code == 502
    assert client.get(f"/v1/results/{'4' * 32}").status_code == 404
    assert client.get("/v1/results/..%2Fsecret").status_code in (404, 422)
