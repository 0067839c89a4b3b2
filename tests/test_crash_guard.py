"""`make test`'s crash guard: a test that segfaults the pytest process fails alone, with its
stack, and the tests after it still run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CRASHING = """
import ctypes

def test_before():
    assert True

def test_segfaults():
    ctypes.string_at(0)  # reads address 0: SIGSEGV in native code

def test_after():
    assert True

def test_fails_normally():
    assert 1 == 2
"""


def test_a_segfault_fails_one_test_with_its_stack_and_the_rest_still_run(tmp_path: Path) -> None:
    suite = tmp_path / "crashing"
    suite.mkdir()
    (suite / "test_crashing.py").write_text(CRASHING)
    (suite / "conftest.py").write_text('pytest_plugins = ["tests.native_crashes"]\n')
    guard = subprocess.run(
        [sys.executable, "-m", "tests.crash_guard", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = guard.stdout
    assert guard.returncode == 1, out + guard.stderr
    assert "pytest died of SIGSEGV" in out
    assert "native crash in crashing/test_crashing.py::test_segfaults" in out
    assert 'test_crashing.py", line 8 in test_segfaults' in out  # the stack names the line
    assert "FAILED crashing/test_crashing.py::test_segfaults - a native crash" in out
    assert "1 failed, 1 passed" in out  # the second run: test_after ran, test_before did not again
