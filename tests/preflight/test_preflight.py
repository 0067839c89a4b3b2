"""`evision preflight` against moto: each problem one line and exit 1, a good set-up exit 0.

moto has no EC2 quotas in Service Quotas (only VPC's): `ec2_quota` adds the one the preflight
reads to moto's backend in this process (the moto server runs in a thread here), behind the same
API the adapter calls; everything else is moto's own.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra.network import Network
from infra.preflight_plan import VPC_ZONES, context_from, plan_for
from services.adapters.aws.preflight import STANDARD_VCPU_QUOTA
from services.preflight.plan import PreflightPlan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ec2_quota(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    from moto.servicequotas.exceptions import NoSuchResource
    from moto.servicequotas.models import ServiceQuotasBackend

    quota: dict[str, float] = {}
    original = ServiceQuotasBackend.get_service_quota

    def get_service_quota(self: Any, service_code: str, quota_code: str) -> dict[str, Any]:
        if service_code == "ec2":
            if quota_code != STANDARD_VCPU_QUOTA or "value" not in quota:
                raise NoSuchResource
            return {"ServiceCode": "ec2", "QuotaCode": quota_code, "Value": quota["value"]}
        return original(self, service_code, quota_code)

    monkeypatch.setattr(ServiceQuotasBackend, "get_service_quota", get_service_quota)
    return lambda value: quota.__setitem__("value", value)


@pytest.fixture
def bootstrapped(moto_endpoint: str) -> Iterator[str]:
    """A CDK bootstrap qualifier of its own (the moto server is shared), bootstrapped."""
    qualifier = uuid.uuid4().hex[:9]
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=f"/cdk-bootstrap/{qualifier}/version", Value="27", Type="String")
    yield qualifier
    ssm.delete_parameter(Name=f"/cdk-bootstrap/{qualifier}/version")


def _issued_certificate() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evision.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    arn: str = boto3.client("acm").import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )["CertificateArn"]
    return arn


def _preflight(plan: PreflightPlan) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "preflight", "--plan", "-"],
        input=plan.model_dump_json(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _newest_image(architecture: str) -> str:
    """The AL2023 image moto's public SSM parameter names (as AWS's does, per region)."""
    name = f"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{architecture}"
    return str(boto3.client("ssm").get_parameter(Name=name)["Parameter"]["Value"])


def _lines(completed: subprocess.CompletedProcess[str], severity: str) -> dict[str, str]:
    """check -> its line, for the lines of `severity`."""
    found = {}
    for line in completed.stdout.splitlines():
        if line.startswith(severity):
            found[line.split()[1].rstrip(":")] = line
    return found


def test_a_missing_parameter_a_certificate_elsewhere_and_a_low_quota_each_fail_in_one_line(
    ec2_quota: Callable[[float], None], bootstrapped: str
) -> None:
    ec2_quota(16)
    plan = PreflightPlan(
        stack="ElasticVision-dev",
        instances={"c7i.large": 20, "t3.small": 4},
        api_keys_parameter=f"/evision/{uuid.uuid4().hex}/api-keys",
        certificate_arn="arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000",
        bootstrap_qualifier=bootstrapped,
        job_buckets=[f"no-such-photos-{uuid.uuid4().hex[:12]}"],
    )
    completed = _preflight(plan)
    print(completed.stdout)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    failed = _lines(completed, "FAIL")
    assert set(failed) == {"apiKeysParameter", "certificateArn", "quota", "jobBuckets"}
    assert f"no S3 bucket {plan.job_buckets[0]}" in failed["jobBuckets"]
    assert (
        "no SSM parameter" in failed["apiKeysParameter"]
        and "fix: aws ssm put-parameter" in failed["apiKeysParameter"]
    )
    assert "eu-west-1" in failed["certificateArn"] and "us-east-1" in failed["certificateArn"]
    assert "48 vCPU (20 x c7i.large + 4 x t3.small)" in failed["quota"] and "is 16" in failed["quota"]
    assert all("why:" in line and "fix:" in line for line in failed.values())
    assert {"credentials", "bootstrap", "instance"} <= set(_lines(completed, "OK"))


def test_a_good_set_up_passes(ec2_quota: Callable[[float], None], bootstrapped: str) -> None:
    ec2_quota(64)
    name = f"/evision/{uuid.uuid4().hex}/api-keys"
    boto3.client("ssm").put_parameter(Name=name, Value="k-0123456789abcdef", Type="SecureString")
    photos = f"photos-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=photos)
    plan = PreflightPlan(
        stack="ElasticVision-dev",
        instances={"c7i.large": 20, "t3.small": 4},
        api_keys_parameter=name,
        certificate_arn=_issued_certificate(),
        bootstrap_qualifier=bootstrapped,
        job_buckets=[photos],
        ami_ids={"us-east-1": {"x86_64": _newest_image("x86_64")}},
        ami_architectures=["x86_64"],
    )
    completed = _preflight(plan)
    print(completed.stdout)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert not _lines(completed, "FAIL") and not _lines(completed, "WARN")
    assert f"{photos} is in us-east-1" in _lines(completed, "OK")["jobBuckets"]
    assert "preflight: 0 failed, 0 warnings" in completed.stdout


def test_no_bootstrap_a_customer_key_an_unknown_type_an_unreadable_quota_a_bucket_elsewhere(
    moto_endpoint: str,
) -> None:
    elsewhere = f"photos-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(
        Bucket=elsewhere, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    name = f"/evision/{uuid.uuid4().hex}/api-keys"
    boto3.client("ssm").put_parameter(
        Name=name, Value="k-0123456789abcdef", Type="SecureString", KeyId="alias/my-own-key"
    )
    plan = PreflightPlan(
        stack="ElasticVision-dev",
        instances={"c7i.large": 20, "c99.large": 1, "g5.xlarge": 1},
        api_keys_parameter=name,
        bootstrap_qualifier=uuid.uuid4().hex[:9],
        job_buckets=[elsewhere],
    )
    completed = _preflight(plan)
    print(completed.stdout)
    assert completed.returncode == 1
    failed = _lines(completed, "FAIL")
    assert set(failed) == {"bootstrap", "apiKeysParameter", "instance"}
    assert "fix: make bootstrap" in failed["bootstrap"]
    assert "alias/my-own-key" in failed["apiKeysParameter"]
    assert "c99.large is not offered" in failed["instance"]
    warned = [line for line in completed.stdout.splitlines() if line.startswith("WARN")]
    assert any("could not read the On-Demand standard vCPU quota" in line for line in warned)
    assert any("g5.xlarge counts towards a quota of its own" in line for line in warned)
    assert any(f"{elsewhere} is in eu-west-1, the workers in us-east-1" in line for line in warned)


def test_the_plan_is_the_stack_make_deploy_would_create(tmp_path: Path) -> None:
    plan = plan_for(context_from([]))
    assert plan.stack == "ElasticVision-dev"
    # The workers at the peak of an instance refresh (MaxHealthyPercentage 200: 2 x maxCapacity).
    assert plan.instances == {"c7i.large": 40, "t3.small": 4}
    assert VPC_ZONES == plan.availability_zones == _network_default_zones()
    given = plan_for(
        context_from(["-c", "apiKeysParameter=/evision/keys", "--context", "workerInstanceType=c7g.large"])
    )
    assert given.api_keys_parameter == "/evision/keys" and given.instances["c7g.large"] == 40
    buckets = plan_for(
        context_from(["-c", "jobSourceBuckets=b-photos,a-photos", "-c", "jobOutputBuckets=a-photos"])
    )
    assert buckets.job_buckets == ["a-photos", "b-photos"]
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps({"context": {"jobSourceBuckets": ["my-photos", "more-photos"]}}))
    assert plan_for(context_from([], cdk_json)).job_buckets == ["more-photos", "my-photos"]
    out = subprocess.run(
        [sys.executable, "-m", "infra.preflight_plan", "-c", "maxCapacity=8"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out)["instances"] == {"c7i.large": 16, "t3.small": 4}


def _network_default_zones() -> int:
    import inspect

    default: int = inspect.signature(Network.__init__).parameters["max_azs"].default
    return default


@pytest.fixture
def ebs_default_key(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """EBS encryption by default on a key: moto 5.2 has Enable/GetEbsEncryptionByDefault and
    ModifyEbsDefaultKmsKeyId but no GetEbsDefaultKmsKeyId, which is added to its EC2 responses here
    (the moto server runs in this process), answering from moto's own state. Restored after."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.settings import Settings

    def get_ebs_default_kms_key_id(self: Any) -> ActionResult:
        key = getattr(self.ec2_backend, "default_kms_key_id", None)
        return ActionResult({"KmsKeyId": key or "alias/aws/ebs"})

    monkeypatch.setattr(Settings, "get_ebs_default_kms_key_id", get_ebs_default_kms_key_id, raising=False)
    ec2 = boto3.client("ec2")

    def use(key: str) -> None:
        ec2.enable_ebs_encryption_by_default()
        ec2.modify_ebs_default_kms_key_id(KmsKeyId=key)

    yield use
    ec2.disable_ebs_encryption_by_default()


def _key(principals: list[str]) -> str:
    account = boto3.client("sts").get_caller_identity()["Account"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": p}, "Action": "kms:*", "Resource": "*"}
            for p in [f"arn:aws:iam::{account}:root", *principals]
        ],
    }
    arn: str = boto3.client("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    return arn


def test_customer_managed_keys_on_ebs_and_the_assets_bucket_are_found(
    ebs_default_key: Callable[[str], None], bootstrapped: str
) -> None:
    account = boto3.client("sts").get_caller_identity()["Account"]
    unusable = _key([])
    ebs_default_key(unusable)
    assets = f"cdk-{bootstrapped}-assets-{account}-us-east-1"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=assets)
    s3.put_bucket_encryption(
        Bucket=assets,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": unusable,
                    }
                }
            ]
        },
    )
    plan = PreflightPlan(
        stack="ElasticVision-dev", instances={"t3.small": 1}, bootstrap_qualifier=bootstrapped
    )
    completed = _preflight(plan)
    print(completed.stdout)
    failed, warned = _lines(completed, "FAIL"), _lines(completed, "WARN")
    assert unusable in failed["ebs"] and "AWSServiceRoleForAutoScaling" in failed["ebs"]
    assert unusable in warned["assets"] and "kms:Decrypt" in warned["assets"]

    # A key whose policy lets Auto Scaling's service-linked role use it passes.
    role = (
        f"arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    ebs_default_key(_key([role]))
    assert "ebs" in _lines(_preflight(plan), "OK")


def test_the_vcpu_peak_of_a_refresh_is_checked_against_the_quota(
    ec2_quota: Callable[[float], None], bootstrapped: str
) -> None:
    """The default deployment at its maximum during a refresh: 40 x c7i.large + 4 x t3.small = 88
    vCPU, over a new account's 64."""
    ec2_quota(64)
    plan = plan_for(context_from([])).model_copy(update={"bootstrap_qualifier": bootstrapped})
    failed = _lines(_preflight(plan), "FAIL")
    assert "88 vCPU (40 x c7i.large + 4 x t3.small)" in failed["quota"]


def test_a_region_without_room_for_the_stacks_vpc_fails(bootstrapped: str) -> None:
    """moto's Service Quotas answers the VPC quotas (5 VPCs per Region by default); the VPCs made
    here fill the region up to it."""
    ec2 = boto3.client("ec2")
    used = len(ec2.describe_vpcs()["Vpcs"])
    made = [ec2.create_vpc(CidrBlock=f"10.{200 + n}.0.0/16")["Vpc"]["VpcId"] for n in range(max(0, 5 - used))]
    try:
        plan = PreflightPlan(
            stack="ElasticVision-dev", instances={"t3.small": 1}, bootstrap_qualifier=bootstrapped
        )
        completed = _preflight(plan)
        print(completed.stdout)
        failed = _lines(completed, "FAIL")
        assert "of a quota of 5 in us-east-1: no room for the stack's one" in failed["network"]
        assert "room for one more" in _lines(completed, "OK")["network"]  # the internet gateways
    finally:
        for vpc in made:
            ec2.delete_vpc(VpcId=vpc)
    assert "network" not in _lines(_preflight(plan), "FAIL")


@pytest.mark.parametrize(
    ("default_subnets", "expected"),
    [
        (["us-east-1c", "us-east-1b"], ["us-east-1b", "us-east-1c"]),  # 1a's default subnet deleted
        ([], ["us-east-1a", "us-east-1b", "us-east-1c"]),  # none has one: all of them
    ],
)
def test_the_zones_checked_are_those_fn_getazs_picks(default_subnets: list[str], expected: list[str]) -> None:
    """Fn::GetAZs lists, in alphabetical order, only the zones with a default subnet (all when none
    has one). EC2 answers through botocore's Stubber: moto's default subnets cannot be deleted and
    restored without disturbing the other tests' shared emulator."""
    from botocore.stub import Stubber

    from services.adapters.aws.preflight import AwsPreflightProbe

    ec2 = boto3.client("ec2", region_name="us-east-1")
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_availability_zones",
            {
                "AvailabilityZones": [
                    {"ZoneName": z, "State": "available"} for z in ("us-east-1c", "us-east-1a", "us-east-1b")
                ]
            },
        )
        stub.add_response(
            "describe_subnets",
            {"Subnets": [{"AvailabilityZone": z, "DefaultForAz": True} for z in default_subnets]},
        )
        assert AwsPreflightProbe(lambda service: ec2).zones() == expected
