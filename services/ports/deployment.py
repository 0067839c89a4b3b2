"""The deployment-checks role: read-only questions about the account a deployment goes into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SecretParameter:
    """What a deployment's secret parameter is, as its owner sees it (not its value)."""

    name: str
    region: str
    secure: bool  # encrypted at rest (SSM SecureString)
    key_id: str | None  # the KMS key that encrypts it (None or the AWS-managed key: alias/aws/ssm)


@dataclass(frozen=True, slots=True)
class Certificate:
    arn: str
    region: str
    status: str  # ACM: ISSUED, PENDING_VALIDATION, EXPIRED, ...


@dataclass(frozen=True, slots=True)
class KmsKey:
    """A customer-managed KMS key and the principals its key policy names (ARNs, as written)."""

    arn: str
    policy_principals: frozenset[str]


@dataclass(frozen=True, slots=True)
class Usage:
    """How many of a regional resource the account has, against its quota (None: cannot tell)."""

    name: str
    used: int
    quota: float | None


class PreflightProbe(Protocol):
    """Read-only questions about the account a deployment is about to go into (the user's own
    credentials and region). Each raises LookupError for a thing that is not there and
    PermissionError (with the reason) where the credentials may not ask."""

    def identity(self) -> tuple[str, str]:
        """(account, region) the credentials reach; raises ConnectionError if they reach none."""
        ...

    def bootstrap_version(self, qualifier: str) -> int:
        """The CDK bootstrap stack's version in this region (LookupError: not bootstrapped)."""
        ...

    def vcpus(self, instance_type: str) -> int: ...

    def on_demand_standard_vcpu_quota(self) -> float | None:
        """The account's running On-Demand standard-instance vCPU quota here (None: cannot tell)."""
        ...

    def zones(self) -> list[str]:
        """The region's available zones, in the order CloudFormation's Fn::GetAZs gives them."""
        ...

    def zones_offering(self, instance_type: str) -> set[str]: ...

    def secret_parameter(self, name: str) -> SecretParameter: ...

    def certificate(self, arn: str) -> Certificate: ...

    def bucket_region(self, name: str) -> str:
        """The region an S3 bucket is in (LookupError: no such bucket)."""
        ...

    def latest_image(self, architecture: str) -> str:
        """The newest Amazon Linux 2023 AMI id for `architecture` (x86_64 | arm64) in this region,
        from its public SSM parameter (what `MachineImage.latest_amazon_linux2023` resolves)."""

    def network_usage(self) -> list[Usage]:
        """The region's VPCs and internet gateways, each against its Service Quotas value."""
        ...

    def ebs_default_key(self) -> KmsKey | None:
        """The customer-managed KMS key EBS encryption by default uses here (None: encryption by
        default is off, or on the AWS-managed key)."""
        ...

    def assets_bucket_key(self, qualifier: str) -> KmsKey | None:
        """The customer-managed KMS key of the CDK assets bucket's default encryption (None: SSE-S3
        or the AWS-managed key; LookupError: no such bucket)."""
        ...


class Deployment(Protocol):
    """The deployment-checks role of a backend: the account a deployment goes into, and the
    secrets it keeps."""

    def preflight_probe(self) -> PreflightProbe | None:
        """What checks an account before a deployment into it (None: this backend deploys nothing)."""
        ...

    def read_secret(self, name: str) -> str:
        """The value of a secret this deployment keeps (cloud: an SSM SecureString parameter);
        raises LookupError if there is none of that name or the backend keeps no secrets, and
        PermissionError if it exists but this process may not read it (the reason in the message)."""
        ...
