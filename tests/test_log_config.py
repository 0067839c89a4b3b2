"""Logs as the cloud ships them: with `log_format=json`, one JSON object per line (Logs Insights
reads its fields), through both set-ups (a command's, and uvicorn's for spawned web processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from services.log_config import LoggingSettings

PROGRAMS = {
    "command": "from services.log_config import setup_logging\nsetup_logging()",
    "uvicorn": "import logging.config\nfrom services.log_config import dict_config\n"
    "logging.config.dictConfig(dict_config())",
}
LOG = """
import logging
log = logging.getLogger("evision.test")
log.info("ready on %s", "127.0.0.1")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it failed")
"""


@pytest.mark.parametrize("setup", sorted(PROGRAMS))
def test_json_lines_carry_level_logger_message_and_traceback(setup: str) -> None:
    env = {**os.environ, **LoggingSettings.from_values(log_format="json").environment(explicit_only=True)}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAMS[setup] + LOG], env=env, capture_output=True, text=True, timeout=60
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("INFO", "evision.test", "ready on 127.0.0.1"),
        ("ERROR", "evision.test", "it failed"),
    ]
    assert "ZeroDivisionError" in lines[1]["exception"] and lines[0]["time"].endswith("+00:00")


def test_text_is_the_default_for_a_terminal() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVISION_")}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAMS["command"] + LOG], env=env, capture_output=True, text=True, timeout=60
    )
    assert " INFO evision.test " in done.stderr.splitlines()[0]
