"""Job buckets under customer-managed KMS keys: the roles get kms:Decrypt (and the writer
kms:GenerateDataKey) on exactly the keys the context names, synthesized in a bare stack."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from infra.config import ServiceConfig
from infra.permissions import allow_job_keys

KEYS = (
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
)


def _statements(template: Template) -> list[dict[str, Any]]:
    policies = template.find_resources("AWS::IAM::Policy")
    return [s for policy in policies.values() for s in policy["Properties"]["PolicyDocument"]["Statement"]]


def _role(stack: cdk.Stack, name: str) -> iam.Role:
    return iam.Role(stack, name, assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))


def test_readers_may_decrypt_and_the_writer_may_also_make_data_keys_with_exactly_the_named_keys(
    stack: cdk.Stack,
) -> None:
    config = ServiceConfig.for_stage("dev", {"jobKmsKeys": ",".join(KEYS)})
    reader, writer = _role(stack, "Reader"), _role(stack, "Writer")
    allow_job_keys(reader, config.job_kms_keys, writes=False)
    allow_job_keys(writer, config.job_kms_keys, writes=True)
    template = Template.from_stack(stack)
    kms = [s for s in _statements(template) if "kms:" in str(s["Action"])]
    by_actions = {str(s["Action"]): s["Resource"] for s in kms}
    assert by_actions == {"kms:Decrypt": list(KEYS), "['kms:Decrypt', 'kms:GenerateDataKey']": list(KEYS)}
    assert all(s["Effect"] == "Allow" and "*" not in str(s["Resource"]) for s in kms)


def test_no_key_named_grants_nothing(stack: cdk.Stack) -> None:
    allow_job_keys(_role(stack, "Reader"), ServiceConfig.for_stage("dev", {}).job_kms_keys, writes=True)
    assert not [s for s in _statements(Template.from_stack(stack)) if "kms:" in str(s["Action"])]
