"""The worker's model pool: the default always there, registered models loaded once on first use
(however many threads ask at once), the least recently used dropped past the memory budget; a
pinned precision served by its engine whatever the worker chose."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from services.adapters.local.model_registry import LocalModelRegistry
from services.models.errors import UnknownModelError
from services.models.registration import register
from services.ports.classifier import ImageClassifier
from services.worker.classifier import folder_loader, load_classifier, pinned_loader
from services.worker.model_pool import ModelPool, estimated_mib
from services.worker.settings import WorkerSettings
from tests.fixtures import GOLDEN, REGISTERED_NAMES, REGISTERED_VERSION, golden_bytes, renamed_model


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> LocalModelRegistry:
    root = tmp_path_factory.mktemp("pool")
    registry = LocalModelRegistry(root / "data")
    for name in REGISTERED_NAMES:
        entry, report = register(renamed_model(root, name), registry)
        assert entry is not None, report.failures
    return registry


def test_three_models_in_turn_through_a_budget_of_one_and_the_default_stays(
    registry: LocalModelRegistry, tmp_path: Path
) -> None:
    probe = tmp_path / "probe"
    settings = WorkerSettings.from_values(threads=1)
    loader = folder_loader(settings)
    loads: list[Path] = []

    def counted(folder: Path) -> ImageClassifier:
        loads.append(folder)
        return loader(folder)

    default = load_classifier(threads=1)
    mib = estimated_mib(registry.download(f"{REGISTERED_NAMES[0]}@{REGISTERED_VERSION}", probe))
    pool = ModelPool(default, registry=registry, load=counted, budget_mib=1.5 * mib)
    refs = [f"{name}@{REGISTERED_VERSION}" for name in REGISTERED_NAMES]
    for ref in [*refs, *refs]:
        classifier = pool.get(ref)
        assert classifier.name.startswith(ref)
        assert len(pool.loaded()) == 1  # never two registered models at once within the budget
    assert pool.loads == 6 and pool.evictions == 5 and len(loads) == 6
    assert pool.get(None) is default and pool.get(default.ref) is default
    with pytest.raises(UnknownModelError):
        pool.get("no-such-model@000000000000")
    pool.close()


def test_threads_asking_for_one_model_at_once_load_it_once(registry: LocalModelRegistry) -> None:
    settings = WorkerSettings.from_values(threads=1)
    pool = ModelPool(
        load_classifier(threads=1), registry=registry, load=folder_loader(settings), budget_mib=1e6
    )
    start = threading.Barrier(4)

    def ask(_: int) -> str:
        start.wait()
        return pool.get(f"{REGISTERED_NAMES[1]}@{REGISTERED_VERSION}").name

    with ThreadPoolExecutor(4) as threads:
        names = set(threads.map(ask, range(4)))
    assert len(names) == 1 and pool.loads == 1
    pool.close()


def test_a_pinned_precision_is_served_by_its_engine_whatever_the_worker_chose(
    registry: LocalModelRegistry, tmp_path: Path
) -> None:
    settings = WorkerSettings.from_values(threads=1, engine="onnxruntime-int8")
    default = load_classifier(engine=settings.engine, threads=1)
    pool = ModelPool(
        default, registry=registry, load=folder_loader(settings), budget_mib=1e6, pin=pinned_loader(settings)
    )
    reference = default.ref
    fp32 = pool.get(None, "fp32")
    assert fp32.name == f"{reference} onnxruntime-fp32" and default.name == f"{reference} onnxruntime-int8"
    assert (fp32.ref, fp32.engine, default.engine) == (reference, "onnxruntime-fp32", "onnxruntime-int8")
    assert pool.get(reference, "fp32") is fp32  # loaded once, kept
    assert pool.get(None, "int8") is default and pool.get(None) is default  # the default runs at int8
    ref = f"{REGISTERED_NAMES[0]}@{REGISTERED_VERSION}"
    pinned = pool.get(ref, "fp32")
    assert pinned.name == f"{ref} onnxruntime-fp32" and pool.get(ref, "fp32") is pinned
    at_worker_engine = pool.get(ref)
    assert at_worker_engine.name == f"{ref} onnxruntime-int8"  # the worker's engine: another entry
    loads = pool.loads
    assert (
        pool.get(ref, "int8") is at_worker_engine and pool.loads == loads
    )  # it runs at that pin: no second copy
    name = next(iter(GOLDEN))
    pixels = np.stack([pinned.preprocess(golden_bytes(name))])
    assert pinned.infer(pixels)[0].label in GOLDEN[name]

    # A model without an int8 variant: an int8 pin is refused (the request's error), fp32 is served.
    plain = renamed_model(tmp_path, "lite0-plain")
    manifest = json.loads((plain / "metadata.json").read_text())
    (plain / manifest.pop("variants")["int8"]["file"]).unlink()
    (plain / "metadata.json").write_text(json.dumps(manifest))
    own = LocalModelRegistry(tmp_path / "data")
    entry, report = register(plain, own)
    assert entry is not None, report.failures
    pool = ModelPool(
        default, registry=own, load=folder_loader(settings), budget_mib=1e6, pin=pinned_loader(settings)
    )
    with pytest.raises(UnknownModelError, match="has no int8 variant"):
        pool.get(entry.ref, "int8")
    assert pool.get(entry.ref, "fp32").name == f"{entry.ref} onnxruntime-fp32"
    assert pool.loaded() == [f"{entry.ref} fp32"]  # the refused load left nothing behind
    pool.close()
