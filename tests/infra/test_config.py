"""ServiceConfig: stage defaults, context parsing (strings from `-c`), and the derived timeouts."""

from __future__ import annotations

import pytest

from infra.config import ServiceConfig
from services.elasticity.policy import ScalingPolicy


def test_dev_destroys_data_and_prod_retains_it():
    assert ServiceConfig.for_stage("dev").retain_data is False
    assert ServiceConfig.for_stage("prod").retain_data is True


def test_capacity_comes_from_the_shared_policy_unless_context_overrides_it():
    default = ServiceConfig.for_stage("dev")
    assert default.scaling == ScalingPolicy()
    overridden = ServiceConfig.for_stage("dev", {"minCapacity": "1", "maxCapacity": "5"})
    assert (overridden.scaling.min_capacity, overridden.scaling.max_capacity) == (1, 5)
    # Everything else of the policy (the step table) is untouched.
    assert overridden.scaling.scale_out_steps == ScalingPolicy().scale_out_steps


def test_context_strings_are_parsed_and_empty_values_ignored():
    config = ServiceConfig.for_stage(
        "prod",
        {
            "maxReceives": "5",
            "modelAmiId": "ami-0123456789abcdef0",
            "sshCidr": "",
            "workerInstanceType": None,
        },
    )
    assert config.max_receives == 5
    assert config.model_ami_id == "ami-0123456789abcdef0"
    assert config.ssh_cidr is None
    assert config.worker_instance_type == ServiceConfig().worker_instance_type


def test_job_buckets_come_as_a_list_or_comma_separated():
    listed = ServiceConfig.for_stage("dev", {"jobSourceBuckets": ["my-photos", "more.photos"]})
    typed = ServiceConfig.for_stage("dev", {"jobSourceBuckets": " my-photos, more.photos ,"})
    assert listed.job_source_buckets == typed.job_source_buckets == ("my-photos", "more.photos")
    assert ServiceConfig.for_stage("dev", {"jobOutputBuckets": "labels"}).job_output_buckets == ("labels",)


@pytest.mark.parametrize(
    ("stage", "context", "message"),
    [
        ("staging", {}, "stage must be one of"),
        ("dev", {"maxCapacty": 3}, "unknown context keys"),
        ("dev", {"maxCapacity": "many"}, "max_capacity must be an integer"),
        ("dev", {"minCapacity": 5, "maxCapacity": 2}, "min_capacity <= max_capacity"),
        ("dev", {"modelAmiId": "my-image"}, "modelAmiId must look like ami-"),
        ("dev", {"maxReceives": 0}, "max_receives must be in"),
        ("dev", {"engine": "tensorrt"}, "engine must be one of"),
        ("dev", {"webProcesses": "0"}, "webProcesses must be in"),
        ("dev", {"logRetentionDays": "31"}, "logRetentionDays must be one of"),
        ("dev", {"alarmEmail": "ops"}, "alarmEmail must be an e-mail address"),
        ("dev", {"jobSourceBuckets": "My_Photos"}, "jobSourceBuckets: 'My_Photos' is not an S3 bucket"),
        ("dev", {"jobOutputBuckets": "ok-name,s3://x"}, "jobOutputBuckets: 's3://x' is not an S3 bucket"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(stage, context, message):
    with pytest.raises(ValueError, match=message):
        ServiceConfig.for_stage(stage, context)


def test_the_lease_is_short_and_the_drain_outlasts_a_worst_case_batch():
    config = ServiceConfig(batch_size=10, worst_case_image_seconds=2.0, visibility_safety_factor=3.0)
    assert config.visibility_timeout_seconds == 10  # a short lease, renewed by the heartbeat
    assert config.worst_case_batch_seconds == 60
    assert config.drain_timeout_seconds > config.worst_case_batch_seconds


def test_a_deployment_on_openvino_installs_the_openvino_lock():
    # auto by default: it races ONNX Runtime fp32 and int8, which need no OpenVINO wheels
    assert (ServiceConfig().engine, ServiceConfig().worker_lock) == ("auto", "requirements.lock")
    assert ServiceConfig.for_stage("dev", {"engine": "onnxruntime"}).worker_lock == "requirements.lock"
    config = ServiceConfig.for_stage("dev", {"engine": "openvino"})
    assert (config.engine, config.worker_lock) == ("openvino", "requirements-openvino.lock")
