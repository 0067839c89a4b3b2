"""cdk-nag acknowledgements: every accepted AwsSolutions finding is acknowledged where it arises."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge `finding` (e.g. "AwsSolutions-IAM5[Resource::*]", evidence in brackets) on `scope`."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason))


def acknowledge_basic_execution(function: lambda_.Function, limited: str) -> iam.IRole:
    """Acknowledges the AWS-managed basic execution policy on `function`'s role (CDK gives every
    function it), `limited` saying what the function's own policy allows; returns the role."""
    role = function.role
    if role is None:
        raise ValueError(f"{function.node.path} has no role of its own")
    acknowledge(
        role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        f"The function writes its own logs with the basic execution role; {limited}",
    )
    return role
