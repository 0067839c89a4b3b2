"""What a deployment will ask of the account: the stack's side of the preflight.

The CDK app writes it (`python -m infra.preflight_plan`, from the same context as `cdk deploy`),
so the checks need no knowledge of infra/ and the runtime package ships without it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class PreflightPlan(BaseModel):
    stack: str
    # instance type -> the most instances of it the stack may run at once (each tier's maximum)
    instances: dict[str, int] = Field(min_length=1)
    availability_zones: int = Field(default=2, ge=1, description="the first N zones the VPC spans")
    api_keys_parameter: str | None = None
    webhook_secret_parameter: str | None = None
    certificate_arn: str | None = None
    # buckets of the owner's that batch jobs read or write (context jobSourceBuckets, jobOutputBuckets)
    job_buckets: list[str] = Field(default_factory=list)
    # the AL2023 images pinned per region and architecture (context amiIds: `evision ami pin`),
    # and the architectures that boot one (a worker on modelAmiId does not)
    ami_ids: dict[str, dict[str, str]] = Field(default_factory=dict)
    ami_architectures: list[str] = Field(default_factory=list)
    bootstrap_qualifier: str = "hnb659fds"  # the CDK default
    # DefaultStackSynthesizer's minimum bootstrap version (aws-cdk-lib, stack synthesizers).
    minimum_bootstrap_version: int = 6
