"""The synthesized template seen as IAM sees it: each role's statements and each launch template's
exports, with the tokens resolved as deployed in us-east-1 (tests/infra/rendered.py). Shared by
tests/infra/test_iam_calls.py (bootstrap, agent, custom resources) and
tests/infra/test_iam_services.py (the services' own calls)."""

from __future__ import annotations

import re
import shlex
from typing import Any

from tests.infra.policy_eval import resolved
from tests.infra.rendered import ACCOUNT, deployed, user_data
from tests.infra.synthesis import Synthesized

REGION = "us-east-1"
LAMBDA_BASIC = [
    {
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "*",
    }
]


def group_arn(name: str) -> str:
    group_id = f"{'0' * 8}-1111-2222-3333-{'4' * 12}"  # generated at creation
    return f"arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:{group_id}:autoScalingGroupName/{name}"


def role_statements(synthesized: Synthesized, prefix: str) -> list[dict[str, Any]]:
    """Every statement of the role whose logical id starts with `prefix`: its inline policies and
    the managed policies these tests know (AmazonSSMManagedInstanceCore is left out: what it grants
    is not counted on, so a check is stricter than AWS)."""
    resolver = deployed(synthesized.template, synthesized.stack)
    [(role_id, role)] = [
        (k, r) for k, r in synthesized.of_type("AWS::IAM::Role").items() if k.startswith(prefix)
    ]
    statements: list[dict[str, Any]] = []
    for policy in synthesized.of_type("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += resolved(policy["Properties"]["PolicyDocument"]["Statement"], resolver)
    for managed in resolved(role["Properties"].get("ManagedPolicyArns", []), resolver):
        if managed.endswith("service-role/AWSLambdaBasicExecutionRole"):
            statements += LAMBDA_BASIC
    return statements


def rendered_exports(synthesized: Synthesized, role: str) -> dict[str, str]:
    """The `export NAME=value` lines of the `role` launch template's user data, as deployed."""
    resolver = deployed(synthesized.template, synthesized.stack)
    for template in synthesized.of_type("AWS::EC2::LaunchTemplate").values():
        text = user_data(resolver, template)
        if f"export EV_ROLE={role}\n" in text:
            return {n: shlex.split(v)[0] for n, v in re.findall(r"^export (\w+)=(.*)$", text, re.MULTILINE)}
    raise LookupError(role)
