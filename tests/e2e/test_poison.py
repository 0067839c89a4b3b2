"""A poison image (one that crashes its decoder) against a real `evision up`: it takes nobody with it.

The worker's classifier is the real model wrapped by tests.worker.poison, which segfaults the
process that decodes an image ending in POISON.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import httpx

from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings
from tests.fixtures import GOLDEN, PROJECT_ROOT, golden_bytes, running_up
from tests.worker.poison import POISON


def test_a_poison_image_fails_alone_and_every_batch_mate_is_answered(tmp_path: Path) -> None:
    names = [name for name in GOLDEN for _ in range(2)][:9]
    crashing = WorkerSettings.from_values(classifier="tests.worker.poison:crashing_classifier")
    patient = WebSettings.from_values(wait_seconds=60)
    # PYTHONPATH: the worker imports the crashing classifier from tests/.
    with running_up(
        tmp_path / "data", "--workers", "1", settings=(crashing, patient), PYTHONPATH=PROJECT_ROOT
    ) as up:

        def classify(name: str, data: bytes) -> tuple[str, int, dict[str, str], float]:
            started = time.monotonic()
            answer = httpx.post(f"{up.url}/v1/classify", files={"file": (name, data)}, timeout=90)
            return name, answer.status_code, answer.json(), time.monotonic() - started

        uploads = [(name, golden_bytes(name)) for name in names]
        uploads.insert(4, ("poison.jpg", golden_bytes(names[0]) + POISON))
        with concurrent.futures.ThreadPoolExecutor(len(uploads)) as pool:
            answers = list(pool.map(lambda upload: classify(*upload), uploads))
        poison = [a for a in answers if a[0] == "poison.jpg"]
        good = [a for a in answers if a[0] != "poison.jpg"]
        for name, status, body, _ in good:
            assert status == 200, (name, body)
            assert body["label"] in GOLDEN[name]
        (_, status, body, _) = poison[0]
        assert status == 502 and body["error"] == "failed", body
        assert "gave up after 3 attempts" in body["reason"]
        stored = httpx.get(f"{up.url}/v1/results/{body['id']}")
        assert stored.json()["error"] == "failed"
        # The batch-mates of the first crash came back at once (released), not after the lease.
        assert max(seconds for *_, seconds in good) < 15, [round(a[3], 1) for a in good]
        status_report = httpx.get(f"{up.url}/v1/status").json()
        assert status_report["dead_letters"]["visible"] == 0
    assert "died holding" in up.output  # the supervisor released what the crashed worker held
    assert "isolated classifier started" in up.output
