"""The worker pool with real (cheap) processes: start, graceful scale-in, crash restarts, shutdown."""

from __future__ import annotations

import logging
import os
import signal
import time

import pytest

from tests.fixtures import alive, ready_pids, wait_for


def test_scale_in_drains_the_surplus_and_never_kills(make_pool, tmp_path):
    pool = make_pool("drain", "0.4")  # each worker takes 0.4 s to finish its "batch" after SIGTERM
    pool.scale_to(3)
    wait_for(lambda: len(ready_pids(tmp_path)) == 3)
    first = set(pool.running)

    pool.scale_to(1)
    assert len(pool.running) == 1 and len(pool.draining) == 2
    kept = pool.running[0]
    wait_for(lambda: (pool.reap(), not pool.draining)[1], timeout=10)
    assert [(e.code, e.requested) for e in pool.exits] == [(0, True), (0, True)]  # drained, not killed
    assert pool.running == [kept] and kept in first and alive(kept)

    pool.shutdown(drain_seconds=10)
    assert not pool.running and not pool.draining
    assert [e.code for e in pool.exits] == [0, 0, 0]
    assert not any(alive(pid) for pid in first)


def test_a_crashed_worker_is_replaced_with_backoff(make_pool, caplog):
    caplog.set_level(logging.INFO, "evision.supervisor")
    pool = make_pool("crash", backoff_seconds=0.2, max_backoff_seconds=0.8)
    started = time.monotonic()
    while time.monotonic() - started < 2.0:
        pool.reap()
        pool.scale_to(1)
        time.sleep(0.02)
    pool.reap()
    crashes = [e for e in pool.exits if not e.requested]
    assert all(e.code == 3 for e in crashes)
    # Without back-off a crash loop would start ~50 processes in 2 s; with 0.2, 0.4, 0.8, 0.8... at most ~6.
    assert 2 <= len(crashes) <= 7, len(crashes)
    assert pool.restarts >= 2
    assert "exited unexpectedly with 3" in caplog.text


def test_a_worker_that_exits_on_its_own_is_replaced_while_wanted(make_pool, tmp_path):
    pool = make_pool("drain", "0", backoff_seconds=0.05, stable_seconds=0.0)
    pool.scale_to(2)
    wait_for(lambda: len(ready_pids(tmp_path)) == 2)
    victim = pool.running[0]
    os.kill(victim, signal.SIGTERM)  # drained by someone else (e.g. an operator)
    wait_for(lambda: (pool.reap(), victim not in pool.running)[1])
    pool.scale_to(2)
    assert len(pool.running) == 2 and victim not in pool.running
    assert pool.restarts == 1

    # Once the capacity is no longer wanted, an exit is not replaced.
    other = next(pid for pid in pool.running if pid in ready_pids(tmp_path))
    os.kill(other, signal.SIGTERM)
    wait_for(lambda: (pool.reap(), other not in pool.running)[1])
    pool.scale_to(1)
    assert len(pool.running) == 1 and pool.restarts == 1


def test_shutdown_kills_only_after_the_drain_timeout_and_says_so(make_pool, tmp_path, caplog):
    pool = make_pool("stubborn")
    pool.scale_to(1)
    wait_for(lambda: len(ready_pids(tmp_path)) == 1)
    pid = pool.running[0]
    started = time.monotonic()
    pool.shutdown(drain_seconds=0.5)
    assert time.monotonic() - started >= 0.5
    assert [(e.code, e.requested) for e in pool.exits] == [(-signal.SIGKILL, True)]
    assert f"worker {pid} still busy after 0.5 s of draining: killing it" in caplog.text
    assert not alive(pid)


@pytest.mark.parametrize("count", [0, 2])
def test_scale_to_the_current_size_does_nothing(make_pool, count):
    pool = make_pool("drain", "0")
    pool.scale_to(count)
    before = list(pool.running)
    pool.scale_to(count)
    assert pool.running == before and not pool.draining
