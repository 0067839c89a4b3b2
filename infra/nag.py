"""cdk-nag acknowledgements: every accepted AwsSolutions finding is acknowledged where it arises."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge `finding` (e.g. "AwsSolutions-IAM5[Resource::*]", evidence in brackets) on `scope`."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason))
