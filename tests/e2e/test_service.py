"""End to end through real HTTP: uvicorn + worker processes, on both backends (local and moto)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import struct
import time
import zlib

import httpx
from PIL import Image

from services.contract import ErrorKind, Result
from tests.fixtures import E2E_VISIBILITY_TIMEOUT, GOLDEN, Service, golden_bytes

TIMEOUT = httpx.Timeout(60.0)


def _upload(service: Service, name: str, data: bytes, field: str = "myfile") -> httpx.Response:
    return httpx.post(f"{service.url}/upload", files={field: (name, data)}, timeout=TIMEOUT)


def _corrupt_images() -> dict[str, bytes]:
    cat = golden_bytes("cat.jpg")

    # A PNG that claims 60000 x 60000 pixels in a few hundred bytes.
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    return {
        "truncated.jpg": cat[: len(cat) // 3],
        "garbage.jpg": cat[:20] + bytes(range(256)) * 40,
        "bomb.png": bomb,
    }


def test_golden_images_are_labelled_and_stored(service: Service) -> None:
    inputs = service.backend.storage.blobs(service.settings.input_bucket)
    outputs = service.backend.storage.blobs(service.settings.output_bucket)
    for name, labels in GOLDEN.items():
        stem = name.rsplit(".", 1)[0]
        response = _upload(service, name, golden_bytes(name))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        got_stem, _, label = response.text.partition(":")
        assert got_stem == stem and label in labels, (name, response.text)

    for field in ("inputFile", "file"):
        response = httpx.post(
            f"{service.url}/v1/classify", files={field: ("cat.jpg", golden_bytes("cat.jpg"))}, timeout=TIMEOUT
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["label"] in GOLDEN["cat.jpg"] and body["image"] == "cat.jpg"
        assert len(body["top5"]) == 5 and body["top5"][0]["label"] == body["label"]
        assert {"queue", "fetch", "preprocess", "infer", "total"} <= set(body["timings"])
        # The result object is the source of truth; the input object is kept under the same id.
        stored = Result.model_validate_json(outputs.get(body["id"]).data)
        assert stored.label == body["label"] and stored.worker and stored.model
        assert inputs.get(body["id"]).data == golden_bytes("cat.jpg")
        again = httpx.get(f"{service.url}/v1/results/{body['id']}", timeout=TIMEOUT)
        assert again.status_code == 200 and again.json() == body
    # /v1/status names the engine (and precision) that answered, as each result's `model` does.
    status = httpx.get(f"{service.url}/v1/status", timeout=TIMEOUT).json()
    # The workers of one machine share the engine `auto` chose (model/engine_choice.py).
    assert status["models"] == [body["model"]]
    assert body["model"].endswith(("onnxruntime-fp32", "onnxruntime-int8", "openvino-bf16", "openvino-f32"))


def test_bad_inputs_get_4xx_with_a_reason_and_the_workers_keep_serving(service: Service) -> None:
    cat = golden_bytes("cat.jpg")
    cases: list[tuple[httpx.Response, int, str | None]] = [
        (_upload(service, "empty.jpg", b""), 400, "empty"),
        (_upload(service, "huge.jpg", cat[:3] + b"\0" * (10 * 1024 * 1024)), 413, "too_large"),
        (_upload(service, "doc.jpg", b"%PDF-1.4 hello"), 415, "not_an_image"),
        (_upload(service, "cat.jpg", cat, field="image"), 400, "missing_field"),
    ]
    for name, data in _corrupt_images().items():
        cases.append((_upload(service, name, data), 422, None))
    for response, status, kind in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert body["reason"], body
        if kind is not None:
            assert body["error"] == kind
        else:  # decided by the worker: a client-side error kind, and an id to look it up by
            assert body["error"] in {"truncated", "corrupt", "too_many_pixels", "unsupported_format"}, body
            assert body["id"]
    response = _upload(service, "cat.jpg", cat)
    assert response.status_code == 200 and response.text.split(":")[1] in GOLDEN["cat.jpg"]
    assert len(service.running_workers()) == 2


def test_every_http_error_is_one_json_shape_with_a_known_kind(service: Service) -> None:
    """FastAPI's own refusals too (404, 405, validation 422): `{"error": kind, "reason": ...}`."""
    cases = [
        (httpx.get(f"{service.url}/no/such/page", timeout=TIMEOUT), 404, "not_found"),
        (httpx.get(f"{service.url}/upload", timeout=TIMEOUT), 405, "method_not_allowed"),
        (httpx.delete(f"{service.url}/v1/classify", timeout=TIMEOUT), 405, "method_not_allowed"),
        (httpx.get(f"{service.url}/v1/results/not-an-id", timeout=TIMEOUT), 422, "invalid_request"),
        (httpx.get(f"{service.url}/v1/results/{'0' * 32}", timeout=TIMEOUT), 404, "not_found"),
        (httpx.post(f"{service.url}/upload", content=b"x", timeout=TIMEOUT), 400, "not_multipart"),
    ]
    for response, status, kind in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert set(body) == {"error", "reason"} and body["error"] == kind and body["reason"], body
        assert body["error"] in {k.value for k in ErrorKind}
    assert "GET" not in cases[1][0].headers["allow"] and "POST" in cases[1][0].headers["allow"]


async def _concurrent_uploads(service: Service, count: int) -> tuple[list[httpx.Response], float]:
    names = list(GOLDEN)
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=service.url, timeout=TIMEOUT, limits=limits) as client:
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(
                client.post(
                    "/upload", files={"myfile": (names[i % len(names)], golden_bytes(names[i % len(names)]))}
                )
                for i in range(count)
            )
        )
        return list(responses), time.perf_counter() - started


def _check_answers(responses: list[httpx.Response]) -> None:
    names = list(GOLDEN)
    for i, response in enumerate(responses):
        name = names[i % len(names)]
        assert response.status_code == 200, response.text
        stem, _, label = response.text.partition(":")
        assert stem == name.rsplit(".", 1)[0] and label in GOLDEN[name], (name, response.text)


def test_50_concurrent_requests_are_all_answered(service: Service) -> None:
    responses, seconds = asyncio.run(_concurrent_uploads(service, 50))
    _check_answers(responses)
    print(f"\n50 concurrent uploads on {service.settings.backend}: {seconds:.2f} s")


def test_a_worker_killed_mid_batch_loses_nothing(service: Service) -> None:
    count, names = 40, list(GOLDEN)
    requests = service.backend.storage.queue(service.settings.request_queue)

    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service.url, timeout=TIMEOUT) as client:
            uploads = [
                asyncio.ensure_future(
                    client.post(
                        "/v1/classify",
                        files={"file": (names[i % len(names)], golden_bytes(names[i % len(names)]))},
                    )
                )
                for i in range(count)
            ]
            # Kill every worker the moment a batch is in flight, so the killed hold messages for
            # sure (waiting for "more than one batch in flight" and killing one raced the workers:
            # a fast engine on a loaded machine finished the victim's batch first), then start
            # fresh ones: the dead workers' messages come back after the visibility timeout.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and requests.depth().in_flight == 0:
                await asyncio.sleep(0.01)
            for worker in victims:
                worker.kill()
            for _ in victims:
                service.start_worker()
            return list(await asyncio.gather(*uploads))

    victims = service.running_workers()
    responses = asyncio.run(scenario())
    assert [victim.wait(5) for victim in victims] == [-9] * len(victims)
    for i, response in enumerate(responses):
        assert response.status_code == 200, response.text
        assert response.json()["label"] in GOLDEN[names[i % len(names)]]
    # The killed workers' batches came back after the visibility timeout and were answered.
    redelivered = [
        r for r in responses if r.json()["timings"]["queue"] >= E2E_VISIBILITY_TIMEOUT * 1000 * 0.9
    ]
    assert redelivered, "the killed worker held no messages: nothing was redelivered"


def test_the_api_docs_load_every_asset_from_the_service_itself(service: Service) -> None:
    """/docs and /redoc work offline: each script, style sheet and icon they reference is served here."""
    import re

    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{service.url}{page}", timeout=TIMEOUT)
        assert html.status_code == 200, html.text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
        assets += re.findall(r"""url: ?["']([^"']+)["']""", html.text)  # Swagger UI's OpenAPI URL
        assets += re.findall(r"""spec-url=["']([^"']+)["']""", html.text)  # ReDoc's
        assert len(assets) >= 2, html.text
        for asset in assets:
            assert not asset.startswith(("http:", "https:", "//")), f"{page} loads {asset} from elsewhere"
            response = httpx.get(f"{service.url}{asset}", timeout=TIMEOUT)
            assert response.status_code == 200 and len(response.content) > 100, (page, asset)


def test_a_bare_host_url_is_the_upload_endpoint_too(service: Service) -> None:
    """Course clients given http://host/ POST there: the same fields, the same text answer."""
    for field in ("myfile", "inputFile"):
        response = httpx.post(
            f"{service.url}/", files={field: ("cat.jpg", golden_bytes("cat.jpg"))}, timeout=TIMEOUT
        )
        assert response.status_code == 200, response.text
        stem, _, label = response.text.partition(":")
        assert stem == "cat" and label in GOLDEN["cat.jpg"]
    refused = httpx.post(f"{service.url}/", files={"myfile": ("a.txt", b"plain text")}, timeout=TIMEOUT)
    assert refused.status_code == 415 and refused.json()["error"] == "not_an_image"


def test_an_oversized_upload_answers_413_to_a_client_that_sends_everything_first(service: Service) -> None:
    """Python's urllib sends the whole body before reading: it must read the 413, not a reset."""
    import json as json_module
    import urllib.error
    import urllib.request

    boundary = "evisionboundary"
    image = golden_bytes("cat.jpg")[:3] + b"\0" * (11 * 1024 * 1024)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="myfile"; filename="big.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{service.url}/upload",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as error:
        assert error.code == 413
        assert json_module.loads(error.read())["error"] == "too_large"
    else:
        raise AssertionError("an 11 MB upload was accepted")
    # The service is unharmed: the next upload is answered.
    assert _upload(service, "cat.jpg", golden_bytes("cat.jpg")).status_code == 200


def test_a_retry_with_the_same_idempotency_key_gets_the_first_result(service: Service) -> None:
    key = {"Idempotency-Key": f"retry-{time.time_ns()}"}
    data = golden_bytes("cat.jpg")
    # The client gives up before the answer (a lost connection), then retries with the same key.
    with contextlib.suppress(httpx.TimeoutException):
        httpx.post(f"{service.url}/v1/classify", files={"file": ("cat.jpg", data)}, headers=key, timeout=0.05)
    retried = [
        httpx.post(
            f"{service.url}/v1/classify", files={"file": ("cat.jpg", data)}, headers=key, timeout=TIMEOUT
        )
        for _ in range(2)
    ]
    first, second = (r.json() for r in retried)
    assert retried[0].status_code == retried[1].status_code == 200, first
    assert first["label"] in GOLDEN["cat.jpg"]
    # One classification: the same id and the very same stored result (timings included).
    assert first == second
    text = httpx.post(
        f"{service.url}/upload", files={"myfile": ("cat.jpg", data)}, headers=key, timeout=TIMEOUT
    )
    assert text.text == f"cat:{first['label']}"
    other = httpx.post(
        f"{service.url}/v1/classify", files={"file": ("dog.jpg", golden_bytes("coffee.jpg"))}, headers=key
    )
    assert other.status_code == 422 and other.json()["id"] == first["id"]
    bad = httpx.post(
        f"{service.url}/v1/classify", files={"file": ("c.jpg", data)}, headers={"Idempotency-Key": ""}
    )
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"
