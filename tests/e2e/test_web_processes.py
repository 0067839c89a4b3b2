"""Several web processes on one port (`evision up --web-processes 3`), one of them SIGKILLed mid-run.

The design of the cloud's load-balanced web tier, on one machine: each process has its own reply
queue, any of them answers any upload's `GET /v1/results/{id}`, a killed one is restarted, and
the queue it left is swept by the others.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import httpx

from services.adapters.registry import open_backend
from services.settings import BackendSettings
from services.web.settings import WebSettings
from tests.fixtures import GOLDEN, golden_bytes, running_up, wait_for

PREFIX = WebSettings().reply_queue_prefix
CLIENTS = 3
UPLOADS_PER_CLIENT = 100


def web_processes(up: subprocess.Popen[str]) -> list[int]:
    """The spawned web processes among `up`'s children (the workers are children too)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if parent == up.pid and b"spawn_main" in command:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def reply_queues(data_dir: Path) -> set[str]:
    """Every reply queue that carries a liveness mark (through the backend's own port)."""
    backend = open_backend(BackendSettings(backend="local", data_dir=data_dir))
    try:
        return set(backend.storage.reply_queues().idle(PREFIX, since=time.time() + 3600))
    finally:
        backend.close()


class Client(threading.Thread):
    """Uploads its share one at a time; on a connection error it retries with the same key."""

    def __init__(self, url: str, index: int, done: list[int]) -> None:
        super().__init__(name=f"client-{index}")
        self.url, self.index, self.done = url, index, done
        self.accepted: dict[str, str] = {}  # id -> expected label
        self.connection_errors = 0
        self.failures: list[str] = []

    def run(self) -> None:
        names = sorted(GOLDEN)
        with httpx.Client(base_url=self.url, timeout=60) as http:
            for n in range(UPLOADS_PER_CLIENT):
                name = names[(n + self.index) % len(names)]
                key = uuid.uuid4().hex
                for _ in range(20):
                    try:
                        answer = http.post(
                            "/v1/classify",
                            files={"file": (name, golden_bytes(name))},
                            headers={"Idempotency-Key": key},
                        )
                        break
                    except httpx.TransportError:
                        self.connection_errors += 1
                        time.sleep(0.2)
                else:
                    self.failures.append(f"{name}: no answer after 20 attempts")
                    continue
                body = answer.json()
                if answer.status_code == 200 and body.get("label") in GOLDEN[name]:
                    self.accepted[body["id"]] = body["label"]
                else:
                    self.failures.append(f"{name}: {answer.status_code} {body}")
                self.done.append(1)


def test_three_web_processes_share_a_port_and_survive_a_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = WebSettings.from_values(reply_heartbeat_seconds=0.5, reply_orphan_seconds=3)
    with running_up(data_dir, "--web-processes", "3", "--workers", "2", settings=settings) as running:
        up, url = running.process, running.url

        def serving() -> bool:
            return len(web_processes(up)) == 3 and len(reply_queues(data_dir)) == 3

        wait_for(serving, 30, 0.2, what="3 web processes, each with its reply queue")
        before = reply_queues(data_dir)
        done: list[int] = []
        clients = [Client(url, i, done) for i in range(CLIENTS)]
        for client in clients:
            client.start()
        wait_for(lambda: len(done) >= 100, 120, 0.2, what="100 answers")
        victim = web_processes(up)[0]
        os.kill(victim, signal.SIGKILL)
        for client in clients:
            client.join(timeout=300)
        # uvicorn's manager replaced the victim; the others swept its queue (3 s without a mark).

        def replaced() -> bool:
            return len(web_processes(up)) == 3 and victim not in web_processes(up)

        def swept() -> bool:
            return len(reply_queues(data_dir)) == 3 and len(before - reply_queues(data_dir)) == 1

        wait_for(replaced, 30, 0.2, what="the killed web process replaced")
        wait_for(swept, 30, 0.2, what="the killed process's reply queue swept")
        after = reply_queues(data_dir)
        accepted = {i: label for client in clients for i, label in client.accepted.items()}
        # Every accepted upload's result is readable from whichever process answers.
        with httpx.Client(base_url=url, timeout=30) as http:
            for request_id, label in accepted.items():
                result = http.get(f"/v1/results/{request_id}")
                assert result.status_code == 200 and result.json()["label"] == label, result.text
    output = running.output
    errors = sum(client.connection_errors for client in clients)
    print(f"{len(accepted)} uploads answered; {errors} connection errors retried after the SIGKILL")
    failures = [f for client in clients for f in client.failures]
    assert not failures, failures[:5]
    assert len(accepted) == CLIENTS * UPLOADS_PER_CLIENT
    assert len(after - before) == 1  # the victim's replacement
    assert "reply queue" in output and "not marked alive" in output, output[-3000:]
    assert up.returncode == 0
    assert reply_queues(data_dir) == set()  # every process deleted its own at the graceful stop
