"""ServiceConfig: stage defaults, context parsing (strings from `-c`), and the derived timeouts."""

from __future__ import annotations

import pytest

from infra.config import API_KEYS_IN_CLEAR, ServiceConfig
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


def test_job_kms_keys_are_key_arns_as_a_list_or_comma_separated() -> None:
    key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    other = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    typed = ServiceConfig.for_stage("dev", {"jobKmsKeys": f"{key}, {other}"})
    assert typed.job_kms_keys == ServiceConfig.for_stage("dev", {"jobKmsKeys": [key, other]}).job_kms_keys
    assert typed.job_kms_keys == (key, other)
    for wrong in ("alias/photos", "arn:aws:kms:us-east-1:111122223333:alias/photos", "1234abcd"):
        with pytest.raises(ValueError, match="jobKmsKeys"):
            ServiceConfig.for_stage("dev", {"jobKmsKeys": wrong})


def test_api_keys_without_tls_are_refused_in_prod_and_warned_about_in_dev():
    keys = {"apiKeysParameter": "/evision/api-keys"}
    with pytest.raises(ValueError, match="apiKeysParameter without certificateArn: API keys would cross"):
        ServiceConfig.for_stage("prod", keys)
    assert ServiceConfig.for_stage("dev", keys).warnings == (API_KEYS_IN_CLEAR,)
    certificate = {"certificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/0"}
    assert ServiceConfig.for_stage("prod", {**keys, **certificate}).warnings == ()
    assert ServiceConfig.for_stage("dev").warnings == ()


def test_the_stack_shows_the_configurations_warnings(stack):
    """The warning reaches `cdk synth`'s output as an annotation of the stack."""
    from aws_cdk.assertions import Annotations, Match

    from infra.stack import show_warnings

    show_warnings(stack, ServiceConfig.for_stage("dev", {"apiKeysParameter": "/evision/api-keys"}))
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("API keys would cross"))
