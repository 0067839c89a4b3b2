"""The one environment contract: every settings class renders itself to EVISION_* and back."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.elasticity.supervisor import SupervisorSettings
from services.log_config import LoggingSettings
from services.settings import BackendSettings, EvisionSettings
from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings

# One non-default value per field (so a field that does not survive the round trip is caught).
NON_DEFAULT: dict[str, object] = {
    "backend": "aws",
    "data_dir": Path("/srv/evision"),
    "input_bucket": "in-b",
    "output_bucket": "out-b",
    "request_queue": "req-q",
    "dead_letter_queue": "dlq-q",
    "job_queue": "jobs-q",
    "job_dead_letter_queue": "jobs-dlq-q",
    "jobs_root": Path("/srv/images"),
    "job_chunk_size": 20,
    "job_monitor_seconds": 7.0,
    "job_busy_monitor_seconds": 0.5,
    "webhook_timeout_seconds": 4.0,
    "webhook_allow_private": True,
    "webhook_secret": "whsec-0123456789",
    "webhook_secret_parameter": "/evision/webhook-secret",
    "max_receives": 7,
    "visibility_timeout": 12.5,
    "input_expiry_days": 2.0,
    "result_expiry_days": 3.0,
    "sweep_seconds": 60.0,
    "reply_queue_prefix": "reply-q",
    "web_processes": 3,
    "api_keys_file": Path("/etc/evision/api-keys"),
    "api_keys_parameter": "/evision/api-keys",
    "api_key_header": "X-Key",
    "rate_limit_per_second": 2.5,
    "rate_limit_burst": 7,
    "trust_forwarded_for": True,
    "reply_heartbeat_seconds": 5.0,
    "reply_orphan_seconds": 11.0,
    "wait_seconds": 4.5,
    "max_upload_bytes": 1234,
    "reply_poll_seconds": 2.0,
    "summary_seconds": 3.0,
    "classifier": "tests.worker.poison:crashing_classifier",
    "isolate_redelivered": False,
    "header_seconds": 4.0,
    "body_idle_seconds": 6.0,
    "max_header_bytes": 16384,
    "max_connections": 500,
    "depth_metric_seconds": 10.0,
    "worker_group": "workers-asg",
    "scale_from_zero_to": 2,
    "activation_seconds": 5.0,
    "batch_size": 3,
    "poll_seconds": 5.0,
    "burst_poll_seconds": 0.5,
    "threads": 3,
    "infer_batch": 2,
    "batches_in_flight": 3,
    "io_threads": 4,
    "extend_after": 0.25,
    "batch_deadline": 30.0,
    "model_path": Path("/models/m.onnx"),
    "model_memory_mib": 300.0,
    "engine": "openvino",
    "metrics": True,
    "scale_period": 2.5,
    "min_workers": 1,
    "max_workers": 3,
    "drain_seconds": 9.0,
    "asg_name": "workers",
    "instance_id": "i-0abc",
    "lifecycle_hook": "launch-hook",
    "imds_url": "http://127.0.0.1:9",
    "orphan_sweep_seconds": 7.0,
    "standby_group": "workers-asg-standby",
    "standby_gate_seconds": 3.0,
    "standby_poll_seconds": 4.0,
    "standby_workers": 2,
    "host": "0.0.0.0",
    "port": 8123,
    "crash_after": "send",
    "log_level": "DEBUG",
    "log_format": "json",
}
CLASSES: list[type[EvisionSettings]] = [
    LoggingSettings,
    BackendSettings,
    WebSettings,
    WorkerSettings,
    SupervisorSettings,
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_settings_survive_environment_and_back(cls, monkeypatch: pytest.MonkeyPatch):
    missing = set(cls.model_fields) - set(NON_DEFAULT)
    assert not missing, f"add a non-default value for {sorted(missing)}"
    values = {name: NON_DEFAULT[name] for name in cls.model_fields}
    original = cls.from_values(**values)
    for name, default in cls.model_fields.items():
        assert getattr(original, name) != default.get_default(call_default_factory=True), name
    environment = original.environment()
    assert set(environment) == cls.variables()
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    assert cls() == original


def test_explicit_only_renders_just_what_was_given():
    settings = WorkerSettings.from_values(backend="aws", threads=2, metrics=True)
    assert settings.environment(explicit_only=True) == {
        "EVISION_BACKEND": "aws",
        "EVISION_THREADS": "2",
        "EVISION_METRICS": "true",
    }
    shared = WebSettings.from_values(reply_queue_prefix="r").environment(only=BackendSettings)
    assert "EVISION_REPLY_QUEUE_PREFIX" not in shared and "EVISION_REQUEST_QUEUE" in shared


def test_from_values_ignores_this_process_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EVISION_INPUT_BUCKET", "from-the-environment")
    assert BackendSettings().input_bucket == "from-the-environment"
    assert BackendSettings.from_values().input_bucket == "evision-input"


def test_a_misspelt_setting_is_refused_not_ignored():
    with pytest.raises(ValidationError, match="thread"):
        WorkerSettings.from_values(thread=2)
    with pytest.raises(ValidationError, match="unknown backend"):
        BackendSettings.from_values(backend="azure")


def test_the_data_dir_is_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    assert BackendSettings.from_values(data_dir="rel").data_dir == tmp_path / "rel"


def test_rendering_keeps_the_declaration_order():
    """User data built from it must be the same at every synthesis (or instances get replaced)."""
    settings = WorkerSettings.from_values(threads=2, backend="aws", batch_size=4)
    assert list(settings.environment(explicit_only=True)) == [
        "EVISION_BACKEND",
        "EVISION_BATCH_SIZE",
        "EVISION_THREADS",
    ]
