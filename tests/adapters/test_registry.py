"""Settings, the Backend factory and the emulator helper."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from pydantic import ValidationError

from services.adapters.aws.clients import AwsClients
from services.adapters.aws.emulator import running_emulator
from services.settings import BackendSettings


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("EVISION_BACKEND", "aws")
    monkeypatch.setenv("EVISION_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EVISION_MAX_RECEIVES", "5")
    monkeypatch.setenv("EVISION_REQUEST_QUEUE", "prod-requests")
    settings = BackendSettings()
    assert (settings.backend, settings.data_dir, settings.max_receives) == ("aws", tmp_path, 5)
    assert settings.request_queue == "prod-requests"


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)  # the data dir is the checkout's, wherever a command runs
    settings = BackendSettings()
    assert settings.backend == "local"
    assert settings.data_dir == Path(__file__).resolve().parents[2] / ".evision"
    assert settings.dead_letter_queue == "evision-requests-dlq"


@pytest.mark.parametrize(("name", "value"), [("BACKEND", "azure"), ("MAX_RECEIVES", "0")])
def test_bad_settings_are_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str):
    monkeypatch.setenv(f"EVISION_{name}", value)
    with pytest.raises(ValidationError):
        BackendSettings()


def test_aws_clients_use_standard_retries_and_default_region(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
):
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    clients = AwsClients()
    s3, sqs = clients.s3(), clients.sqs()
    assert s3.meta.region_name == sqs.meta.region_name == "us-east-1"
    assert sqs.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}  # type: ignore[attr-defined]
    assert sqs.meta.endpoint_url == moto_endpoint  # from AWS_ENDPOINT_URL, read by boto3 itself
    assert clients.sqs() is sqs  # one client per Backend
    clients.close()


def test_adapters_are_cached(local_backend):
    settings = local_backend.settings
    assert local_backend.storage.queue(settings.request_queue) is local_backend.storage.queue(
        settings.request_queue
    )
    assert local_backend.storage.blobs(settings.input_bucket) is local_backend.storage.blobs(
        settings.input_bucket
    )


def test_running_emulator_sets_and_restores_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with running_emulator() as emulator:
        assert os.environ["AWS_ENDPOINT_URL"] == emulator.endpoint_url
        assert emulator.endpoint_url.startswith("http://127.0.0.1:")
        url = boto3.client("sqs").create_queue(QueueName="emulated")["QueueUrl"]
        assert url.startswith(emulator.endpoint_url)
    assert "AWS_ENDPOINT_URL" not in os.environ


def test_the_registry_knows_each_backend_and_refuses_others(tmp_path: Path):
    from services.adapters.registry import backend_names, plugin
    from services.ports.backend import Backend

    assert backend_names() == ("local", "aws")
    for name in backend_names():
        backend = plugin(name).open(BackendSettings.from_values(backend=name, data_dir=tmp_path))
        assert isinstance(backend, Backend) and backend.name == name
        backend.close()
    assert plugin("local").emulator() is None
    with pytest.raises(ValueError, match="unknown backend 'azure'"):
        plugin("azure")


def test_no_code_outside_the_adapters_compares_a_backend_name():
    import re

    from services.adapters.registry import backend_names

    root = Path(__file__).resolve().parents[2]
    names = "|".join(backend_names())
    comparison = re.compile(rf"""(==|!=|\bin\b)\s*\(?\s*["']({names})["']|["']({names})["']\s*(==|!=)""")
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("services", "infra")
        for path in (root / folder).rglob("*.py")
        if "adapters" not in path.relative_to(root).parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if comparison.search(line)
    ]
    assert offenders == []
