"""An image that hangs the decoder inside a job chunk, against a real `evision up`: the chunk is
given up at the batch deadline (not held for ever by its visibility heartbeat), received again and
classified image by image in the isolation helper; the hung image gets a `failed` line alone and
its chunk-mates their labels.

The worker's classifier is the real model wrapped by tests.worker.poison, whose decoder never
returns for an image ending in HANG (in the worker and in the isolation helper alike).
"""

from __future__ import annotations

from pathlib import Path

from services.worker.settings import WorkerSettings
from tests.fixtures import check_fails_alone, golden_bytes, run_poisoned_job
from tests.worker.poison import HANG

DEADLINE = 6.0  # the batch deadline, short so the test is too; a chunk of 8 takes well under 1 s


def test_an_image_that_hangs_the_decoder_in_a_chunk_fails_alone_and_its_chunk_mates_get_labels(
    tmp_path: Path,
) -> None:
    worker = WorkerSettings.from_values(
        classifier="tests.worker.poison:hanging_classifier", batch_deadline=DEADLINE
    )
    # Before the chunk had a deadline, the heartbeat held it for ever: the guard would end this.
    run = run_poisoned_job(tmp_path, golden_bytes("cat.jpg") + HANG, worker)
    print(f"job with a hung image done in {run.seconds:.1f} s (batch deadline {DEADLINE:g} s)")
    check_fails_alone(run, "still running")
    assert "the batch deadline" in run.output and "received again" in run.output, run.output[-3000:]
