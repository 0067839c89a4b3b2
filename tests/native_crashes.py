"""A pytest plugin for `tests/crash_guard.py`: where a native crash (a segfault in an engine)
happened, and which tests had finished, for the guard to report and go on without it.

Active only under the guard (EVISION_CRASH_DIR): faulthandler writes every thread's stack into
`faults.log`, under a first line naming the test that was running; `collected` and `finished`
list node ids. pytest's own faulthandler writes to a stderr that the fd capture has redirected,
so its report died with the process.
"""

from __future__ import annotations

import faulthandler
import os
from pathlib import Path
from typing import IO

import pytest

CRASH_DIR = "EVISION_CRASH_DIR"
HEADER = "native crash in "
_faults: list[IO[str]] = []


def _directory() -> Path | None:
    value = os.environ.get(CRASH_DIR)
    return Path(value) if value else None


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    directory = _directory()
    if directory is not None and not hasattr(config, "workerinput"):
        faults = (directory / "faults.log").open("w")
        _faults.append(faults)
        faulthandler.enable(file=faults, all_threads=True)


def pytest_collection_finish(session: pytest.Session) -> None:
    directory = _directory()
    if directory is not None:
        (directory / "collected").write_text("".join(f"{item.nodeid}\n" for item in session.items))


def pytest_runtest_logstart(nodeid: str) -> None:
    for faults in _faults:
        faults.seek(0)
        faults.truncate()
        faults.write(f"{HEADER}{nodeid}\n")
        faults.flush()


def pytest_runtest_logfinish(nodeid: str) -> None:
    directory = _directory()
    if directory is not None:
        with (directory / "finished").open("a") as finished:
            finished.write(f"{nodeid}\n")


def pytest_unconfigure(config: pytest.Config) -> None:
    while _faults:
        faulthandler.disable()
        _faults.pop().close()
