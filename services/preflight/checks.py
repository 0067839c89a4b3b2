"""The preflight's checks: a plan against what the account answers (`PreflightProbe`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

from services.ports.deployment import PreflightProbe
from services.preflight.findings import Finding
from services.preflight.images import check_machine_images
from services.preflight.plan import PreflightPlan

# Instance families in the "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z)" quota (EC2
# user guide, "On-Demand Instance quotas", 2026-12); dl, hpc, inf, trn, mac, u, x, g, p, f and vt
# have quotas of their own.
STANDARD_FAMILIES = frozenset({"a", "c", "d", "h", "i", "im", "is", "m", "r", "t", "z"})
_FAMILY = re.compile(r"^([a-z]+)\d")
AUTO_SCALING_ROLE = "AWSServiceRoleForAutoScaling"


def family(instance_type: str) -> str:
    match = _FAMILY.match(instance_type)
    return match.group(1) if match else instance_type


def run_checks(plan: PreflightPlan, probe: PreflightProbe) -> list[Finding]:
    """Every finding, the reachability first (without it nothing else can be asked)."""
    try:
        account, region = probe.identity()
    except ConnectionError as exc:
        return [
            Finding(
                "credentials",
                "fail",
                str(exc),
                "cdk deploy would fail the same way",
                "configure credentials (aws configure, AWS_PROFILE) and a region (AWS_REGION)",
            )
        ]
    findings = [Finding("credentials", "ok", f"{plan.stack} goes into account {account}, {region}")]
    for check in CHECKS:
        findings.extend(_guarded(check, plan, probe, region))
    return findings


def _guarded(
    check: Callable[[PreflightPlan, PreflightProbe, str], Iterator[Finding]],
    plan: PreflightPlan,
    probe: PreflightProbe,
    region: str,
) -> Iterator[Finding]:
    name = check.__name__.removeprefix("check_").replace("_", " ")
    try:
        yield from check(plan, probe, region)
    except PermissionError as exc:  # the credentials may not ask: say so, do not guess
        yield Finding(name, "warn", f"could not check: {exc}", fix="grant read access to check it")


def check_bootstrap(plan: PreflightPlan, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    try:
        version = probe.bootstrap_version(plan.bootstrap_qualifier)
    except LookupError:
        yield Finding(
            "bootstrap",
            "fail",
            f"CDK is not bootstrapped in {region} (qualifier {plan.bootstrap_qualifier})",
            "cdk deploy uploads the bundles to the bootstrap bucket and deploys with its roles",
            "make bootstrap",
        )
        return
    if version < plan.minimum_bootstrap_version:
        yield Finding(
            "bootstrap",
            "fail",
            f"the CDK bootstrap stack in {region} is version {version}",
            f"this app needs version {plan.minimum_bootstrap_version} or later",
            "make bootstrap (upgrades it in place)",
        )
        return
    yield Finding("bootstrap", "ok", f"CDK bootstrap version {version} in {region}")


def check_quota(plan: PreflightPlan, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    standard = {t: n for t, n in plan.instances.items() if family(t) in STANDARD_FAMILIES}
    for other in sorted(set(plan.instances) - set(standard)):
        yield Finding(
            "quota",
            "warn",
            f"{other} counts towards a quota of its own, not checked here",
            fix="check it in Service Quotas (EC2) before scaling out",
        )
    vcpus: dict[str, int] = {}
    for instance_type in standard:
        with contextlib.suppress(LookupError):  # not a type here: the instance-type check says so
            vcpus[instance_type] = probe.vcpus(instance_type)
    standard = {t: n for t, n in standard.items() if t in vcpus}
    if not standard:
        return
    needed = sum(n * vcpus[t] for t, n in standard.items())
    spelled = " + ".join(f"{n} x {t}" for t, n in sorted(standard.items()))
    quota = probe.on_demand_standard_vcpu_quota()
    if quota is None:
        yield Finding(
            "quota",
            "warn",
            f"could not read the On-Demand standard vCPU quota in {region}; the stack may run {needed} vCPU",
            fix="check 'Running On-Demand Standard instances' (L-1216C47A) in Service Quotas",
        )
    elif needed > quota:
        yield Finding(
            "quota",
            "fail",
            f"the stack may run {needed} vCPU ({spelled}) but the account's On-Demand standard "
            f"quota in {region} is {quota:g}",
            "scale-out stops at the quota, and shows only in the group's activity history",
            "request an increase of 'Running On-Demand Standard instances' (L-1216C47A) in Service "
            "Quotas, or lower maxCapacity/webMaxCapacity",
        )
    else:
        yield Finding("quota", "ok", f"{needed} vCPU ({spelled}) within the quota of {quota:g}")


def check_instance_types(plan: PreflightPlan, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    zones = probe.zones()[: plan.availability_zones]
    for instance_type in sorted(plan.instances):
        missing = sorted(set(zones) - probe.zones_offering(instance_type))
        if missing:
            yield Finding(
                "instance types",
                "fail",
                f"{instance_type} is not offered in {', '.join(missing)} "
                f"(the stack's zones: {', '.join(zones)})",
                "the group cannot launch into a subnet of that zone",
                "choose a type offered in every zone (aws ec2 describe-instance-type-offerings)",
            )
        else:
            yield Finding("instance types", "ok", f"{instance_type} offered in {', '.join(zones)}")


def check_secret_parameters(plan: PreflightPlan, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    for key, name in (
        ("apiKeysParameter", plan.api_keys_parameter),
        ("webhookSecretParameter", plan.webhook_secret_parameter),
    ):
        if name is not None:
            yield from _secret_parameter(key, name, probe, region)


def _secret_parameter(key: str, name: str, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    why = "the web tier refuses to start without it, and the deploy fails its health wait"
    try:
        parameter = probe.secret_parameter(name)
    except LookupError:
        yield Finding(
            key,
            "fail",
            f"no SSM parameter {name} in {region}",
            why,
            f"aws ssm put-parameter --region {region} --type SecureString --name {name} --value '<key>,...'",
        )
        return
    if parameter.region != region:
        yield Finding(
            key,
            "fail",
            f"{name} is in {parameter.region}, the stack deploys to {region}",
            why + " (the web tier reads its own region's parameter)",
            f"create it in {region}",
        )
    elif parameter.key_id is not None:
        yield Finding(
            key,
            "fail",
            f"{name} is encrypted with the customer-managed key {parameter.key_id}",
            why + " (its role may decrypt with the AWS-managed key alias/aws/ssm only)",
            "re-create it with the default key (omit --key-id)",
        )
    elif not parameter.secure:
        yield Finding(
            key,
            "warn",
            f"{name} is a plain String: stored unencrypted",
            fix="re-create it as a SecureString",
        )
    else:
        yield Finding(key, "ok", f"{name} is a SecureString in {region}")


def check_certificate(plan: PreflightPlan, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    arn = plan.certificate_arn
    if arn is None:
        return
    try:
        certificate = probe.certificate(arn)
    except LookupError:
        yield Finding(
            "certificateArn",
            "fail",
            f"no ACM certificate {arn} in {region}",
            "CloudFormation fails the HTTPS listener and rolls the stack back",
            f"request or import the certificate in {region}",
        )
        return
    if certificate.region != region:
        yield Finding(
            "certificateArn",
            "fail",
            f"the certificate is in {certificate.region}, the load balancer in {region}",
            "ACM certificates are regional: CloudFormation fails the HTTPS listener",
            f"request or import the certificate in {region}",
        )
    elif certificate.status != "ISSUED":
        yield Finding(
            "certificateArn",
            "fail",
            f"the certificate is {certificate.status}",
            "the HTTPS listener needs an issued certificate",
            "complete its validation in ACM (DNS record), or use an issued one",
        )
    else:
        yield Finding("certificateArn", "ok", f"issued, in {region}")


def check_job_buckets(plan: PreflightPlan, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    for name in plan.job_buckets:
        try:
            where = probe.bucket_region(name)
        except LookupError:
            yield Finding(
                "jobBuckets",
                "fail",
                f"no S3 bucket {name}",
                "the roles would be granted a bucket that is not there: jobs over it are refused",
                "fix the name in jobSourceBuckets / jobOutputBuckets, or create the bucket",
            )
            continue
        if where != region:
            yield Finding(
                "jobBuckets",
                "warn",
                f"{name} is in {where}, the workers in {region}",
                "every image crosses regions: slower, and billed as inter-region data transfer",
                f"copy the images to a bucket in {region}, or deploy in {where}",
            )
        else:
            yield Finding("jobBuckets", "ok", f"{name} is in {region}")


def check_network_quotas(plan: PreflightPlan, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    """The stack makes one VPC and one internet gateway (infra/network.py): each must fit its quota,
    or CloudFormation fails the first resource and rolls the whole stack back."""
    for usage in probe.network_usage():
        if usage.quota is None:
            yield Finding(
                "network",
                "warn",
                f"could not read the quota of {usage.name} in {region} ({usage.used} in use)",
            )
        elif usage.used + 1 > usage.quota:
            yield Finding(
                "network",
                "fail",
                f"{usage.used} {usage.name} of a quota of {usage.quota:g} in {region}: "
                "no room for the stack's one",
                "CloudFormation fails the resource and rolls the stack back",
                f"delete an unused one, or ask for more {usage.name} per Region (Service Quotas, Amazon VPC)",
            )
        else:
            yield Finding("network", "ok", f"{usage.used} {usage.name} of {usage.quota:g}: room for one more")


def check_ebs_encryption(plan: PreflightPlan, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    """EBS encryption by default on a customer-managed key: Auto Scaling launches the instances with
    its service-linked role, which must be allowed to use the key, or every launch fails (EC2 Auto
    Scaling user guide, "Required AWS KMS key policy for use with encrypted volumes"; 2026-12)."""
    key = probe.ebs_default_key()
    if key is None:
        yield Finding("ebs", "ok", f"EBS encryption by default off or on the AWS-managed key in {region}")
    elif any(AUTO_SCALING_ROLE in principal for principal in key.policy_principals):
        yield Finding("ebs", "ok", f"the default EBS key {key.arn} lets {AUTO_SCALING_ROLE} use it")
    else:
        yield Finding(
            "ebs",
            "fail",
            f"EBS encryption by default uses the customer-managed key {key.arn}, whose policy does not "
            f"name {AUTO_SCALING_ROLE}",
            "every instance launch of both groups fails (Client.InternalError) without a key grant",
            f"allow the role aws-service-role/autoscaling.amazonaws.com/{AUTO_SCALING_ROLE} to use "
            "the key (its key policy, or kms create-grant)",
        )


def check_assets_bucket(plan: PreflightPlan, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    """The CDK assets bucket on a customer-managed key: the instances download their bundle from it
    and their roles are granted s3:GetObject only, so the key's own policy must let the account's
    principals decrypt through S3 (the key `cdk bootstrap --bootstrap-customer-key` makes does)."""
    try:
        key = probe.assets_bucket_key(plan.bootstrap_qualifier)
    except LookupError:
        return  # not bootstrapped: the bootstrap check says so
    if key is None:
        yield Finding(
            "assets bucket", "ok", "the CDK assets bucket uses S3-managed or AWS-managed encryption"
        )
    else:
        yield Finding(
            "assets bucket",
            "warn",
            f"the CDK assets bucket is encrypted with the customer-managed key {key.arn}",
            "instances download their bundle from it: their roles have no kms:Decrypt, so the key "
            "policy must allow this account's principals to decrypt via S3, or every launch fails",
            "check the key policy (kms:Decrypt, kms:ViaService s3), or bootstrap with the default key",
        )


CHECKS = (
    check_bootstrap,
    check_machine_images,
    check_quota,
    check_instance_types,
    check_network_quotas,
    check_secret_parameters,
    check_certificate,
    check_job_buckets,
    check_ebs_encryption,
    check_assets_bucket,
)
