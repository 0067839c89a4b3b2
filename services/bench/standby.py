"""`evision bench-standby`: what a busy standby worker costs the web tier on the same machine.

A web tier of `--web-processes` processes (a t3.small runs 2) and one standby worker share this
machine, as on a web instance. The web processes answer uploads at `--concurrency` with a short
wait (202: the web tier's own work - read, check, store, enqueue - not the model's), twice:

- idle: the standby runs but takes no work (a worker is marked in service);
- busy: the standby classifies a backlog the whole time (no worker in service).

Prints each phase's latency percentiles, their ratio busy / idle, and the resident memory of the
web processes and of the standby (with its helpers) while busy: the figures that size the
standby's bounds on a 2 GiB t3.small. `--nice N` runs the standby at that niceness, close to what
its systemd unit's CPUWeight does on the instance (CPUWeight=20 against 100 is a 1:5 share; nice 7
against 0 is about 1:4.8 in the kernel's weight table).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from services.adapters.registry import open_backend
from services.bench.processes import (
    BenchError,
    Processes,
    child_environment,
    evision,
    listening,
    wait_healthy,
)
from services.contract import RequestMessage, new_request_id
from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings

IMAGE = Path(__file__).parents[2] / "model" / "testdata" / "cat.jpg"
REPLY_QUEUE = "bench-standby-replies"
# A process the local backend counts as a worker in service (what a worker's `await_serving` does)
# that takes no work: while it lives, the standby stays idle.
IN_SERVICE = """
import sys, threading
from services.adapters.registry import open_backend
from services.ports.capacity import Placement
from services.settings import BackendSettings
open_backend(BackendSettings()).capacity.await_serving(Placement(), threading.Event())
print("in service", flush=True)
sys.stdin.read()
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=600, help="uploads per phase (default 600)")
    parser.add_argument("--concurrency", type=int, default=32, help="uploads in flight (default 32)")
    parser.add_argument("--web-processes", type=int, default=2, help="web processes (default 2)")
    parser.add_argument("--backlog", type=int, default=4000, help="requests queued for the busy standby")
    parser.add_argument("--nice", type=int, default=0, help="the standby's niceness (default 0)")


def _rss_mib(pid: int) -> float:
    """Resident memory of `pid` and its descendants, MiB (from /proc)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")) / 1024
        pending += [int(c) for c in children]
    return total


def _phase(url: str, requests: int, concurrency: int) -> list[float]:
    """Latencies (s) of `requests` uploads at `concurrency`; each must be accepted (200 or 202)."""
    data = IMAGE.read_bytes()

    def one(_: int) -> float:
        started = time.perf_counter()
        response = client.post(f"{url}/upload", files={"myfile": ("cat.jpg", data)})
        if response.status_code not in (200, 202):
            raise BenchError(f"upload answered {response.status_code}: {response.text[:200]}")
        return time.perf_counter() - started

    limits = httpx.Limits(max_connections=concurrency)
    with httpx.Client(timeout=60, limits=limits) as client, ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(concurrency)))  # warm-up: connections, first requests
        return list(pool.map(one, range(requests)))


def _percentiles(latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


def _wait_until(
    condition: Callable[[], bool], failure: str, processes: Processes, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        processes.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"{failure} within {timeout:.0f} s")
        time.sleep(0.05)


def _wait_for(log: Path, text: str, processes: Processes, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        processes.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"no {text!r} in {log} within {timeout:.0f} s")
        time.sleep(0.1)


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="evision-bench-standby-") as tmp:
        work = Path(tmp)
        settings = WebSettings.from_values(
            data_dir=work / "data", web_processes=args.web_processes, wait_seconds=0.05
        )
        backend = open_backend(settings)
        backend.storage.provision(settings, reply_queues=[REPLY_QUEUE])
        # The backlog the busy standby works through (its results are not read).
        inputs, requests = (
            backend.storage.blobs(settings.input_bucket),
            backend.storage.queue(settings.request_queue),
        )
        bodies = []
        for _ in range(args.backlog):
            request_id = new_request_id()
            inputs.put(request_id, IMAGE.read_bytes(), content_type="image/jpeg")
            bodies.append(
                RequestMessage(id=request_id, image="cat.jpg", reply_to=REPLY_QUEUE).model_dump_json()
            )
        for start in range(0, len(bodies), 10):
            requests.send_batch(bodies[start : start + 10])
        # A "worker in service" (until its stdin closes): the standby starts idle.
        in_service = subprocess.Popen(
            [sys.executable, "-c", IN_SERVICE],
            env=child_environment(settings),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert in_service.stdout is not None and in_service.stdin is not None
        if in_service.stdout.readline().strip() != "in service":
            raise BenchError("the stand-in worker did not come into service")
        standby_settings = WorkerSettings.from_values(
            data_dir=settings.data_dir, standby_gate_seconds=0.5, standby_poll_seconds=0.5
        )
        nice = ["nice", "-n", str(args.nice)] if args.nice else []
        web_command, url = listening("web")
        web = Processes([web_command], env=child_environment(settings), log_dir=work, name="web")
        standby = Processes(
            [[*nice, *evision("worker", "--standby")]],
            env=child_environment(standby_settings),
            log_dir=work,
            name="standby",
        )
        with web, standby:
            wait_healthy(url, web)
            _wait_for(standby.logs[0], "taking no work", standby)
            idle = _phase(url, args.requests, args.concurrency)
            in_service.stdin.close()  # no worker in service any more
            in_service.wait(30)
            _wait_for(standby.logs[0], "taking work", standby)
            # Busy means a batch in hand: on a loaded machine the log line comes well before the
            # standby's first receive, and a phase measured before it would measure an idle one.
            _wait_until(lambda: requests.depth().in_flight > 0, "the standby took no batch", standby)
            memory: list[float] = []
            done = threading.Event()

            def sample() -> None:
                while not done.wait(0.2):
                    memory.append(_rss_mib(standby.processes[0].pid))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            before, started = requests.depth().outstanding, time.perf_counter()
            busy = _phase(url, args.requests, args.concurrency)
            busy_seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            web_mib = _rss_mib(web.processes[0].pid)
            standby_mib = max([*memory, _rss_mib(standby.processes[0].pid)])
            after = requests.depth()
            left = after.outstanding
            classified = before + args.requests + args.concurrency - left  # uploads and warm-up added
            # A loaded machine may finish no batch within the phase: still busy if one is in hand.
            busy_at_end = after.in_flight > 0 or classified > 0
        backend.close()
    if left == 0:
        raise BenchError("the standby ran out of backlog during the busy phase: raise --backlog")
    idle_p, busy_p = _percentiles(idle), _percentiles(busy)
    print(f"{args.requests} uploads per phase at c={args.concurrency}, {args.web_processes} web processes,")
    print(f"standby niceness {args.nice}; latency of an accepted upload (ms):")
    print(f"{'':>14} {'p50':>8} {'p95':>8} {'p99':>8}")
    print(f"{'standby idle':>14} " + " ".join(f"{idle_p[k]:8.1f}" for k in ("p50", "p95", "p99")))
    print(f"{'standby busy':>14} " + " ".join(f"{busy_p[k]:8.1f}" for k in ("p50", "p95", "p99")))
    print(f"{'busy / idle':>14} " + " ".join(f"{busy_p[k] / idle_p[k]:8.2f}" for k in ("p50", "p95", "p99")))
    print(f"the standby classified {classified} images meanwhile ({classified / busy_seconds:.1f} images/s)")
    at_end = "also" if busy_at_end else "none"
    print(f"the standby held a batch when the busy phase began, and {at_end} at its end")
    print(f"resident memory: web tier {web_mib:.0f} MiB, standby {standby_mib:.0f} MiB (busy, with helpers)")
    return 0
