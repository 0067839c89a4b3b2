"""`python -m tests.crash_guard [pytest args]`: pytest, in which a native crash fails one test.

A segfault in native code (an inference engine under load) kills the pytest process: before,
the whole session ended with no stack and no result for the tests after it. Here pytest runs as
a child with the `tests.native_crashes` plugin; if it dies of a signal, the guard prints the
test that was running and every thread's stack, then runs the tests that had not finished yet
(deselecting the ones that had), and exits 1 at the end: one failed test, the rest reported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.native_crashes import CRASH_DIR, HEADER


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def main(arguments: list[str]) -> int:
    crashed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="evision-crash-guard-") as scratch:
        directory = Path(scratch)
        environment = {**os.environ, CRASH_DIR: scratch}
        deselected = directory / "deselected.args"
        extra: list[str] = []
        while True:
            command = [sys.executable, "-m", "pytest", "-p", "no:faulthandler", *arguments, *extra]
            code = subprocess.call(command, env=environment)
            if code >= 0:
                break
            faults = (directory / "faults.log").read_text()
            running = faults.splitlines()[0].removeprefix(HEADER) if faults.startswith(HEADER) else ""
            print(
                f"\n{'=' * 30} pytest died of {signal.Signals(-code).name} {'=' * 30}\n{faults}", flush=True
            )
            crashed.append(running or "(between tests)")
            done = {*_lines(directory / "finished"), *crashed}
            if not [nodeid for nodeid in _lines(directory / "collected") if nodeid not in done]:
                break
            deselected.write_text("".join(f"--deselect={nodeid}\n" for nodeid in sorted(done)))
            extra = [f"@{deselected}"]
            print("crash guard: going on with the tests that had not finished\n", flush=True)
    for nodeid in crashed:
        print(f"FAILED {nodeid} - a native crash (its stack above)")
    return 1 if crashed else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
