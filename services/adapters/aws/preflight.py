"""The preflight's questions to AWS, with the user's credentials: read-only calls only.

STS GetCallerIdentity (reachable), SSM GetParameter of the CDK bootstrap version (what `cdk deploy`
itself checks: /cdk-bootstrap/<qualifier>/version), EC2 DescribeInstanceTypes and
DescribeInstanceTypeOfferings, Service Quotas GetServiceQuota (falling back to the AWS default where
the account has no applied value), SSM DescribeParameters, ACM DescribeCertificate, S3
GetBucketLocation, SSM GetParameter of the public Amazon Linux 2023 AMI parameters; EC2
GetEbsEncryptionByDefault and GetEbsDefaultKmsKeyId, S3 GetBucketEncryption, KMS DescribeKey and
GetKeyPolicy (customer-managed keys in the way); EC2 DescribeVpcs and DescribeInternetGateways
against their VPC quotas.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from services.ports.deployment import Certificate, KmsKey, SecretParameter, Usage

# "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances", in vCPUs (EC2 user guide,
# "On-Demand Instance quotas", 2026-12).
STANDARD_VCPU_QUOTA = "L-1216C47A"
# "VPCs per Region" and "Internet gateways per Region" (Amazon VPC user guide, "Amazon VPC quotas";
# 2026-12): 5 each by default.
VPC_QUOTAS = {"VPCs": "L-F678F1CE", "internet gateways": "L-A4707A72"}
AWS_MANAGED_SSM_KEY = "alias/aws/ssm"
NOT_FOUND = {"ParameterNotFound", "ResourceNotFoundException", "NoSuchResourceException", "NoSuchBucket"}
# GetBucketLocation's LocationConstraint for the regions that predate it (S3 API reference,
# GetBucketLocation, 2026-12): none for us-east-1, "EU" for eu-west-1.
LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}
# The public parameter of the newest AL2023 AMI per architecture (EC2 user guide, "Query for the
# latest Amazon Linux AMI IDs using Systems Manager Parameter Store", 2026-12).
AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{architecture}"
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
AWS_MANAGED_KEYS = {"alias/aws/ebs", "alias/aws/s3"}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _translated(error: ClientError, what: str) -> Exception:
    code = _code(error)
    if code in NOT_FOUND:
        return LookupError(what)
    message = error.response.get("Error", {}).get("Message", "")
    return PermissionError(f"{what}: {code}: {message}")


class AwsPreflightProbe:
    def __init__(self, client: Callable[[Any], Any]) -> None:
        self._client = client
        self._region = ""

    @property
    def region(self) -> str:
        if not self._region:
            self._region = str(self._client("sts").meta.region_name)
        return self._region

    def identity(self) -> tuple[str, str]:
        try:
            account = str(self._client("sts").get_caller_identity()["Account"])
        except (BotoCoreError, ClientError) as exc:
            raise ConnectionError(f"STS GetCallerIdentity in {self.region}: {exc}") from None
        return account, self.region

    def bootstrap_version(self, qualifier: str) -> int:
        name = f"/cdk-bootstrap/{qualifier}/version"
        try:
            value = self._client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as error:
            raise _translated(error, f"no SSM parameter {name} in {self.region}") from None
        return int(value)

    def vcpus(self, instance_type: str) -> int:
        try:
            found = self._client("ec2").describe_instance_types(InstanceTypes=[instance_type])
        except ClientError as error:
            if _code(error).startswith("InvalidInstanceType"):
                raise LookupError(f"no instance type {instance_type} in {self.region}") from None
            raise _translated(error, f"DescribeInstanceTypes {instance_type}") from None
        [described] = found["InstanceTypes"]
        return int(described["VCpuInfo"]["DefaultVCpus"])

    def on_demand_standard_vcpu_quota(self) -> float | None:
        return self._quota("ec2", STANDARD_VCPU_QUOTA)

    def _quota(self, service: str, code: str) -> float | None:
        """The applied value of a quota, else AWS's default (None: cannot tell)."""
        quotas = self._client("service-quotas")
        for call in (quotas.get_service_quota, quotas.get_aws_default_service_quota):
            try:
                return float(call(ServiceCode=service, QuotaCode=code)["Quota"]["Value"])
            except ClientError as error:
                if _code(error) not in NOT_FOUND:  # denied, throttled: cannot tell
                    return None
        return None

    def network_usage(self) -> list[Usage]:
        ec2 = self._client("ec2")
        try:
            used = {
                "VPCs": sum(len(p["Vpcs"]) for p in ec2.get_paginator("describe_vpcs").paginate()),
                "internet gateways": sum(
                    len(p["InternetGateways"])
                    for p in ec2.get_paginator("describe_internet_gateways").paginate()
                ),
            }
        except ClientError as error:
            raise _translated(error, "DescribeVpcs/DescribeInternetGateways") from None
        return [Usage(name, count, self._quota("vpc", VPC_QUOTAS[name])) for name, count in used.items()]

    def zones(self) -> list[str]:
        """As Fn::GetAZs gives them: in alphabetical order, and "only Availability Zones that have a
        default subnet unless none of the Availability Zones has a default subnet" (CloudFormation
        template reference, Fn::GetAZs; 2026-12): an account that deleted a default subnet gets a
        VPC in other zones than the first ones listed."""
        ec2 = self._client("ec2")
        found = ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])
        zones = sorted(zone["ZoneName"] for zone in found["AvailabilityZones"])
        subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
        with_default = {subnet["AvailabilityZone"] for subnet in subnets}
        return [zone for zone in zones if zone in with_default] if with_default else zones

    def zones_offering(self, instance_type: str) -> set[str]:
        pages = (
            self._client("ec2")
            .get_paginator("describe_instance_type_offerings")
            .paginate(
                LocationType="availability-zone",
                Filters=[{"Name": "instance-type", "Values": [instance_type]}],
            )
        )
        return {offer["Location"] for page in pages for offer in page["InstanceTypeOfferings"]}

    def secret_parameter(self, name: str) -> SecretParameter:
        region = self.region
        if name.startswith("arn:"):  # arn:aws:ssm:<region>:<account>:parameter/<name>
            region = name.split(":")[3]
            name = "/" + name.split(":parameter/", 1)[-1]
        if region != self.region:
            return SecretParameter(name=name, region=region, secure=True, key_id=None)
        try:
            found = self._client("ssm").describe_parameters(
                ParameterFilters=[{"Key": "Name", "Values": [name]}]
            )["Parameters"]
        except ClientError as error:
            raise _translated(error, f"SSM parameter {name}") from None
        if not found:
            raise LookupError(f"no SSM parameter {name} in {region}")
        key = found[0].get("KeyId")
        return SecretParameter(
            name=name,
            region=region,
            secure=found[0]["Type"] == "SecureString",
            key_id=None if key in (None, AWS_MANAGED_SSM_KEY) else str(key),
        )

    def certificate(self, arn: str) -> Certificate:
        region = arn.split(":")[3] if arn.count(":") >= 5 else self.region
        if region != self.region:
            return Certificate(arn=arn, region=region, status="UNKNOWN")
        try:
            found = self._client("acm").describe_certificate(CertificateArn=arn)["Certificate"]
        except ClientError as error:
            raise _translated(error, f"no ACM certificate {arn} in {region}") from None
        return Certificate(arn=arn, region=region, status=str(found["Status"]))

    def bucket_region(self, name: str) -> str:
        try:
            location = self._client("s3").get_bucket_location(Bucket=name).get("LocationConstraint")
        except ClientError as error:
            raise _translated(error, f"no S3 bucket {name}") from None
        return LEGACY_LOCATIONS.get(location, str(location))

    def latest_image(self, architecture: str) -> str:
        name = AL2023_PARAMETER.format(architecture=architecture)
        try:
            return str(self._client("ssm").get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as error:
            raise _translated(error, f"no SSM parameter {name} in {self.region}") from None

    def ebs_default_key(self) -> KmsKey | None:
        ec2 = self._client("ec2")
        try:
            if not ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"]:
                return None
            key_id = str(ec2.get_ebs_default_kms_key_id()["KmsKeyId"])
        except ClientError as error:
            raise _translated(error, "EBS encryption by default") from None
        return self._customer_key(key_id)

    def assets_bucket_key(self, qualifier: str) -> KmsKey | None:
        account, region = self.identity()
        bucket = f"cdk-{qualifier}-assets-{account}-{region}"
        try:
            rules = self._client("s3").get_bucket_encryption(Bucket=bucket)[
                "ServerSideEncryptionConfiguration"
            ]
        except ClientError as error:
            if _code(error) == "ServerSideEncryptionConfigurationNotFoundError":
                return None
            raise _translated(error, f"no S3 bucket {bucket}") from None
        for rule in rules["Rules"]:
            default = rule.get("ApplyServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm", "").startswith("aws:kms") and default.get("KMSMasterKeyID"):
                return self._customer_key(str(default["KMSMasterKeyID"]))
        return None

    def _customer_key(self, key_id: str) -> KmsKey | None:
        """The key named `key_id` if the customer manages it (None for an AWS-managed key)."""
        if key_id in AWS_MANAGED_KEYS or ":alias/aws/" in key_id:
            return None
        kms = self._client("kms")
        try:
            metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
            if metadata.get("KeyManager") == "AWS":
                return None
            policy = json.loads(kms.get_key_policy(KeyId=metadata["KeyId"], PolicyName="default")["Policy"])
        except ClientError as error:
            raise _translated(error, f"KMS key {key_id}") from None
        principals = set()
        for statement in policy.get("Statement", []):
            named = statement.get("Principal", {})
            for value in named.values() if isinstance(named, dict) else [named]:
                principals.update(value if isinstance(value, list) else [value])
        return KmsKey(arn=str(metadata["Arn"]), policy_principals=frozenset(map(str, principals)))
