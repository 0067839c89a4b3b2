"""`evision model check` through its command line: each check printed, exit 1 on a failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from model.metadata import MODEL_DIR
from tests.fixtures import drop_a_label, linked_model_copy


def test_the_command_prints_each_check_and_exits_1_on_a_failure(tmp_path: Path) -> None:
    folder = linked_model_copy(tmp_path)
    drop_a_label(folder)
    command = [sys.executable, "-m", "services.cli", "model", "check"]
    good = subprocess.run([*command, str(MODEL_DIR)], capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "golden images as expected" in good.stdout and "images/s" in good.stdout
    bad = subprocess.run([*command, str(folder)], capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "FAIL  labels: " in bad.stdout and "999 labels" in bad.stdout
