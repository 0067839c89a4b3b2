"""A poison image in a batch job (one that crashes its decoder) against a real `evision up`: it
gets a `failed` line alone, and every other image of its chunk gets its label.

The worker's classifier is the real model wrapped by tests.worker.poison, which segfaults the
process that decodes an image ending in POISON: the worker dies with the chunk in hand, the
chunk comes back, and its images are then classified one by one in the isolation helper.
"""

from __future__ import annotations

from pathlib import Path

from services.worker.settings import WorkerSettings
from tests.fixtures import check_fails_alone, golden_bytes, run_poisoned_job
from tests.worker.poison import POISON


def test_a_poison_image_in_a_job_fails_alone_and_its_chunk_mates_get_their_labels(tmp_path: Path) -> None:
    worker = WorkerSettings.from_values(classifier="tests.worker.poison:crashing_classifier")
    run = run_poisoned_job(tmp_path, golden_bytes("cat.jpg") + POISON, worker)
    check_fails_alone(run, "crashed")
    assert "received again" in run.output and "isolated classifier started" in run.output
