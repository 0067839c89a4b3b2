"""`evision web` on the aws backend (moto) refuses a configuration that cannot work: one line
naming the problem, the configuration exit code (which the systemd units do not restart), and
no web process started (nothing for uvicorn to respawn)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from services.exit_codes import CONFIGURATION_ERROR
from services.web.settings import WebSettings
from tests.fixtures import free_port, settings_for


def _web(settings: WebSettings, processes: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "services.cli", "web", "--port", str(free_port())]
    return subprocess.run(
        [*command, "--processes", processes],
        env={**os.environ, **settings.environment()},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_missing_api_keys_parameter_is_refused_in_one_line(
    moto_endpoint: str, tmp_path: Path, processes: str
) -> None:
    backend = settings_for("aws", tmp_path)
    settings = WebSettings.from_values(**backend.model_dump(), api_keys_parameter="/evision/no-such-keys")
    web = _web(settings, processes)
    assert web.returncode == CONFIGURATION_ERROR, web.stderr[-2000:]
    [line] = [line for line in web.stderr.splitlines() if "refusing to start" in line]
    assert "/evision/no-such-keys" in line and "in us-east-1" in line
    assert "Started server process" not in web.stderr  # no web process ever ran


def test_a_parameter_with_a_short_key_is_refused_and_a_good_one_is_read(
    moto_endpoint: str, tmp_path: Path
) -> None:
    ssm = boto3.client("ssm")
    name = f"/evision/{tmp_path.name}/keys"
    ssm.put_parameter(Name=name, Value="short", Type="SecureString")
    backend = settings_for("aws", tmp_path)
    settings = WebSettings.from_values(**backend.model_dump(), api_keys_parameter=name)
    web = _web(settings, "1")
    assert web.returncode == CONFIGURATION_ERROR
    assert "shorter than 16 characters" in web.stderr

    from services.web.config_check import configuration_problem

    ssm.put_parameter(Name=name, Value="k-0123456789abcdef", Type="SecureString", Overwrite=True)
    assert configuration_problem(settings) is None


def test_a_missing_webhook_secret_parameter_is_refused_and_a_good_one_signs(
    moto_endpoint: str, tmp_path: Path
) -> None:
    backend = settings_for("aws", tmp_path)
    name = f"/evision/{tmp_path.name}/webhook"
    settings = WebSettings.from_values(**backend.model_dump(), webhook_secret_parameter=name)
    web = _web(settings, "1")
    assert web.returncode == CONFIGURATION_ERROR
    [line] = [line for line in web.stderr.splitlines() if "refusing to start" in line]
    assert "webhook secret" in line and name in line

    from services.adapters.registry import open_backend
    from services.jobs.webhook import webhook_secret
    from services.web.config_check import configuration_problem

    boto3.client("ssm").put_parameter(Name=name, Value="whsec-0123456789abcdef", Type="SecureString")
    assert configuration_problem(settings) is None
    opened = open_backend(settings)
    assert webhook_secret(settings, opened.deployment.read_secret) == "whsec-0123456789abcdef"
    opened.close()
