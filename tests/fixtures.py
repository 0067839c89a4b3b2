"""The tests' shared helpers, in one place: processes (free ports, readiness, children, stops),
`evision up` as a user runs it, and an emulated Auto Scaling group. Test modules import these,
never each other."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from services.settings import EvisionSettings


# -- processes ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy after {timeout} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _state_and_parent(pid_dir: Path) -> tuple[str, int] | None:
    try:
        fields = (pid_dir / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def children(pid: int) -> list[int]:
    """The live (not zombie) child processes of `pid` (Linux /proc)."""
    found = []
    for pid_dir in Path("/proc").glob("[0-9]*"):
        seen = _state_and_parent(pid_dir)
        if seen is not None and seen[1] == pid and seen[0] != "Z":
            found.append(int(pid_dir.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not: its parent has not reaped it yet)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    seen = _state_and_parent(Path(f"/proc/{pid}"))
    return seen is not None and seen[0] != "Z"


# -- `evision up` --------------------------------------------------------------------------------
def up_command(port: int, data_dir: Path, *options: str) -> list[str]:
    """`evision up` as a user types it, on `port` with its data in `data_dir`."""
    return [
        sys.executable,
        "-m",
        "services.cli",
        "up",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *options,
    ]


def clean_environment(*settings: EvisionSettings, **other: str) -> dict[str, str]:
    """This process's environment without EVISION_* and AWS_* variables, plus the explicit fields
    of each of `settings` (rendered by the settings classes, never typed by hand) and `other`
    variables that are not ours (e.g. PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVISION_", "AWS_"))}
    for each in settings:
        env.update(each.environment(explicit_only=True))
    return {**env, **other}


def interrupt(up: subprocess.Popen[str]) -> str:
    """Ctrl-C, as a user stops it; its whole output (killed if it does not stop within a minute)."""
    try:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
    return output


@dataclass
class RunningUp:
    url: str
    process: subprocess.Popen[str]
    output: str = ""  # its whole output, once stopped


@contextmanager
def running_up(
    data_dir: Path,
    *options: str,
    settings: EvisionSettings | Sequence[EvisionSettings] = (),
    timeout: float = 60,
    **other: str,
) -> Iterator[RunningUp]:
    """`evision up` on a free port with `options`, `settings` (explicit ones only) and `other`
    variables (e.g. PYTHONPATH), healthy; interrupted (Ctrl-C) at exit, its output then in
    `.output`."""
    port = free_port()
    process = subprocess.Popen(
        up_command(port, data_dir, *options),
        env=clean_environment(*([settings] if isinstance(settings, EvisionSettings) else settings), **other),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningUp(url=f"http://127.0.0.1:{port}", process=process)
    try:
        wait_until_healthy(running.url, process, timeout=timeout)
        yield running
    finally:
        running.output = interrupt(process)


# -- an emulated Auto Scaling group --------------------------------------------------------------
def emulated_group(group: str, *, size: int, most: int) -> list[str]:
    """Create an Auto Scaling group of `size` instances (at most `most`) in the emulator; their ids."""
    import boto3

    autoscaling = boto3.client("autoscaling", region_name="us-east-1")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName=group, ImageId="ami-12c6146b", InstanceType="c7i.large"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchConfigurationName=group,
        MinSize=0,
        MaxSize=most,
        DesiredCapacity=size,
        AvailabilityZones=["us-east-1a"],
    )
    [found] = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    return [str(instance["InstanceId"]) for instance in found["Instances"]]


def emulated_group_instance(group: str) -> str:
    """An Auto Scaling group of one instance in the emulator; that instance's id."""
    [instance] = emulated_group(group, size=1, most=1)
    return instance


# -- models -------------------------------------------------------------------------------------
def renamed_model(folder: Path, name: str) -> Path:
    """A copy of the committed model's folder under another name, in `folder`: a second model
    with the same weights (and so the same labels) to register."""
    from model import MODEL_DIR

    target = folder / name
    shutil.copytree(MODEL_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    manifest = json.loads((target / "metadata.json").read_text())
    (target / "metadata.json").write_text(json.dumps({**manifest, "name": name}))
    return target
