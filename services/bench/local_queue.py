"""Benchmark of the local SQLite queue (not part of the test run).

    python -m services.bench.local_queue [--messages 20000] [--wakeups 200] [--idle 5]

Prints: send+receive+delete throughput (batch 10 and batch 1), the wake-up latency of a
long-polling receiver in another process (send -> receive returned), and the CPU an idle
long-polling receiver uses.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

from services.adapters.registry import open_backend
from services.settings import BackendSettings


def _settings(data_dir: Path) -> BackendSettings:
    return BackendSettings(backend="local", data_dir=data_dir)


def throughput(settings: BackendSettings, messages: int, batch: int) -> float:
    backend = open_backend(settings)
    queue = backend.storage.queue(settings.request_queue)
    bodies = [f'{{"v":1,"id":"{i:032x}","image":"cat.jpg","reply_to":"r"}}' for i in range(batch)]
    started = time.perf_counter()
    for _ in range(messages // batch):
        queue.send_batch(bodies)
        received = queue.receive(batch, wait_seconds=0)
        queue.delete_batch([m.receipt for m in received])
    elapsed = time.perf_counter() - started
    backend.close()
    return messages / elapsed


def _receiver(settings: BackendSettings, count: int, idle: float, pipe: Connection) -> None:
    backend = open_backend(settings)
    queue = backend.storage.queue(settings.request_queue)
    queue.receive(1, wait_seconds=0.01)  # register the doorbell
    pipe.send("ready")
    cpu_before, wall_before = time.process_time(), time.monotonic()
    assert queue.receive(1, wait_seconds=idle) == []
    idle_cpu = (time.process_time() - cpu_before) / (time.monotonic() - wall_before)
    latencies: list[float] = []
    pipe.send("go")
    while len(latencies) < count:
        for message in queue.receive(10, wait_seconds=20):
            latencies.append(time.time() - float(message.body))
            queue.delete_batch([message.receipt])
            pipe.send("next")
    pipe.send((idle_cpu, latencies))
    backend.close()


def wakeups(settings: BackendSettings, count: int, idle: float) -> tuple[float, list[float]]:
    backend = open_backend(settings)
    queue = backend.storage.queue(settings.request_queue)
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_receiver, args=(settings, count, idle, theirs)
    )
    process.start()
    assert ours.recv() == "ready"
    assert ours.recv() == "go"
    for _ in range(count):
        time.sleep(0.01)  # let the receiver go back to waiting
        queue.send(repr(time.time()))
        assert ours.recv() == "next"
    idle_cpu, latencies = ours.recv()
    process.join()
    backend.close()
    return idle_cpu, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--wakeups", type=int, default=200)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds of idle long-polling to measure")
    parser.add_argument(
        "--dir", type=Path, default=None, help="parent of the scratch data dir (default: TMPDIR)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        settings = _settings(Path(tmp))
        open_backend(settings).storage.provision(settings)
        for batch in (10, 1):
            rate = throughput(settings, args.messages if batch == 10 else args.messages // 5, batch)
            print(f"send+receive+delete, batch {batch:>2}: {rate:8.0f} msgs/s")
        idle_cpu, latencies = wakeups(settings, args.wakeups, args.idle)
        quantiles = statistics.quantiles([x * 1000 for x in latencies], n=100)
        print(
            f"wake-up latency (other process, n={len(latencies)}): "
            f"p50 {quantiles[49]:.2f} ms, p95 {quantiles[94]:.2f} ms, max {max(latencies) * 1000:.2f} ms"
        )
        print(f"idle long-polling receiver CPU: {idle_cpu * 100:.3f} % of one core over {args.idle:.0f} s")


if __name__ == "__main__":
    main()
