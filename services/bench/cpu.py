"""CPU seconds used by a process tree, by role: robust to a busy machine, unlike wall-clock rates.

On a shared machine the images/s of two stages measured a minute apart can differ because a
neighbour got busy; CPU milliseconds per image cannot. Linux /proc only; elsewhere, empty.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of one process."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def _role(pid: int) -> str:
    try:
        argv = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "other"
    if b"moto.server" in argv:
        return "emulator"
    if b"worker" in argv:
        return "workers"
    if b"up" in argv:
        return "web"
    return "other"


def tree_cpu(root: int) -> dict[str, float]:
    """CPU seconds of `root` and all its descendants, summed by role (web, workers, emulator, other)."""
    if not _PROC.is_dir():
        return {}
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)], cpu[int(entry.name)] = stat
    children: defaultdict[int, list[int]] = defaultdict(list)
    for pid, parent in parents.items():
        children[parent].append(pid)
    totals: defaultdict[str, float] = defaultdict(float)
    todo = [root] if root in cpu else []
    while todo:
        pid = todo.pop()
        totals[_role(pid)] += cpu[pid]
        todo.extend(children[pid])
    return dict(totals)


class CpuMeter:
    """CPU seconds between start() and stop(): "client" (this process: the load generator, or the
    worker-loop bench's submitter) plus each role in the process trees under `roots`."""

    def __init__(self, roots: list[int]) -> None:
        self._roots = roots
        self._before: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        totals: defaultdict[str, float] = defaultdict(float)
        totals["client"] = time.process_time()
        for root in self._roots:
            for role, seconds in tree_cpu(root).items():
                totals[role] += seconds
        return dict(totals)

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> None:
        after = self._sample()
        self.seconds = {role: after[role] - self._before.get(role, 0.0) for role in after}

    def ms_per_image(self, images: int) -> dict[str, float]:
        return {role: round(s * 1000 / images, 2) for role, s in self.seconds.items()} if images else {}
