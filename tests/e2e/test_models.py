"""Several models in one running service with one worker pool (both backends): an upload names
a registered model (`?model=name@version`, or just its name) and is answered by it, the result
naming it; an unknown model is a 422 listing the known ones; a worker whose model budget holds
one registered model at a time serves three in turn (the least recently used dropped).

The second and third models are copies of the committed one under other names (the EfficientNet
Lite1/Lite2 folders are exported by `make models`, not committed), so the weights are the same and
the labels too: what is checked is that the request reached the model it named."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from model import MODEL_DIR, load_metadata
from services.models.registration import register
from services.worker.settings import WorkerSettings
from tests.fixtures import (
    GOLDEN,
    REGISTERED_NAMES,
    REGISTERED_VERSION,
    Service,
    golden_bytes,
    renamed_model,
    stop,
)

DEFAULT = load_metadata(MODEL_DIR / "metadata.json").short_name


@pytest.fixture(scope="module")
def models(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("models")
    registry = service.backend.models
    for name in REGISTERED_NAMES:
        entry, report = register(renamed_model(folder, name), registry)
        assert entry is not None, report.failures
    # One more worker whose budget holds one registered model at a time (about 55 MiB each).
    budget = WorkerSettings.from_values(model_memory_mib=80.0).environment(explicit_only=True)
    worker = subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env={**service.env, **budget})
    for other in service.running_workers():
        stop(other)  # only the bounded worker serves from here
    service.workers.append(worker)
    yield service


def _classify(service: Service, model: str | None) -> httpx.Response:
    name = next(iter(GOLDEN))
    params = {} if model is None else {"model": model}
    return httpx.post(
        f"{service.url}/v1/classify", params=params, files={"myfile": (name, golden_bytes(name))}, timeout=120
    )


def test_each_upload_is_answered_by_the_model_it_names(models: Service) -> None:
    for round_ in range(2):  # three models in turn, twice: each is loaded again after being dropped
        for name in REGISTERED_NAMES:
            ref = name if round_ else f"{name}@{REGISTERED_VERSION}"
            answer = _classify(models, ref)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["model"].startswith(f"{name}@{REGISTERED_VERSION} ")  # and the engine
            assert body["label"] in GOLDEN[next(iter(GOLDEN))]
    by_field = httpx.post(  # the form field `model`, as the page's form could send it
        f"{models.url}/v1/classify",
        data={"model": REGISTERED_NAMES[2]},
        files={"myfile": ("cat.jpg", golden_bytes(next(iter(GOLDEN))))},
        timeout=120,
    )
    assert by_field.status_code == 200
    assert by_field.json()["model"].startswith(f"{REGISTERED_NAMES[2]}@{REGISTERED_VERSION} ")
    default = _classify(models, None).json()
    assert default["model"].startswith(f"{DEFAULT} ")
    listed = [m["model"] for m in httpx.get(f"{models.url}/v1/models").json()]
    assert listed == [DEFAULT, *(f"{n}@{REGISTERED_VERSION}" for n in REGISTERED_NAMES)]


def test_an_unknown_model_is_a_422_listing_the_known_ones(models: Service) -> None:
    answer = _classify(models, "no-such-model")
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "invalid_request" and "no-such-model" in body["reason"]
    assert (
        all(f"{n}@{REGISTERED_VERSION}" in body["reason"] for n in REGISTERED_NAMES)
        and DEFAULT in body["reason"]
    )
