"""The fault soak, short: uploads while a worker and then the whole service are SIGKILLed, then two
crash-loop rounds (the service SIGKILLed a few milliseconds into a burst of keyed uploads)."""

from __future__ import annotations

from pathlib import Path

from services.bench.soak import run_soak


def test_a_short_soak_loses_nothing_and_answers_a_killed_workers_uploads_within_15_s(tmp_path: Path) -> None:
    report = run_soak(
        uploads=200,
        concurrency=8,
        worker_kills=2,
        service_crashes=1,
        crash_loop=2,
        crash_burst=16,
        data_dir=tmp_path,
    )
    print("\n" + "\n".join(report.lines()))
    assert report.uploads == 200 + 2 * 16
    assert report.worker_kills == 2 and report.service_crashes == 1 + 2
    assert report.connection_errors > 0  # the crash was felt by the clients, and retried
    assert report.clean, report.lines()
    assert report.kill_waits and max(report.kill_waits) < 15
