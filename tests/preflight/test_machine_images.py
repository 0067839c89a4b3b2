"""The pinned machine image: `evision ami pin` writes it (against moto's public AL2023
parameters), the preflight checks the deploy's region has one, and synthesis boots it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import boto3
import pytest

from infra.config import FEATURE_FLAGS, ServiceConfig
from infra.images import machine_image
from infra.preflight_plan import context_from, plan_for
from services.preflight.plan import PreflightPlan

PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{}"


def _newest(architecture: str) -> str:
    return str(boto3.client("ssm").get_parameter(Name=PARAMETER.format(architecture))["Parameter"]["Value"])


def _evision(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pin_writes_the_newest_image_per_architecture_and_a_pin_moves_only_when_asked(
    moto_endpoint: str, tmp_path: Path
) -> None:
    cached = tmp_path / "cdk.context.json"
    cached.write_text(json.dumps({"other": 1}))  # the CDK's own cached values stay
    newest = {"x86_64": _newest("x86_64"), "arm64": _newest("arm64")}

    pinned = _evision("ami", "pin", "--context-file", str(cached))
    assert pinned.returncode == 0, pinned.stderr
    assert json.loads(cached.read_text()) == {"other": 1, "amiIds": {"us-east-1": newest}}
    assert "us-east-1 pinned to" in pinned.stdout and "was unpinned" in pinned.stdout

    old = {"x86_64": "ami-0123456789abcdef0", "arm64": "ami-0fedcba9876543210"}
    cached.write_text(json.dumps({"amiIds": {"us-east-1": old}}))
    kept = _evision("ami", "pin", "--if-unpinned", "--context-file", str(cached))
    assert kept.returncode == 0 and "is pinned" in kept.stdout
    assert json.loads(cached.read_text())["amiIds"]["us-east-1"] == old  # make deploy moves nothing

    moved = _evision("ami", "pin", "--context-file", str(cached))  # make refresh-ami
    assert json.loads(cached.read_text())["amiIds"]["us-east-1"] == newest
    assert "was arm64 ami-0fedcba9876543210" in moved.stdout

    elsewhere = _evision("ami", "pin", "--region", "eu-west-1", "--context-file", str(cached))
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert set(json.loads(cached.read_text())["amiIds"]) == {"us-east-1", "eu-west-1"}


def _preflight_lines(plan: PreflightPlan) -> list[str]:
    completed = _evision("preflight", "--plan", "-", stdin=plan.model_dump_json())
    return [line for line in completed.stdout.splitlines() if " amiIds: " in line]


def test_preflight_fails_a_region_without_a_pin_and_names_a_pin_that_is_not_the_newest(
    moto_endpoint: str,
) -> None:
    plan = PreflightPlan(stack="ElasticVision-dev", instances={"t3.small": 1}, ami_architectures=["x86_64"])
    [unpinned] = _preflight_lines(plan)
    assert unpinned.startswith("WARN") and "make refresh-ami" in unpinned

    elsewhere = plan.model_copy(update={"ami_ids": {"eu-west-1": {"x86_64": "ami-0123456789abcdef0"}}})
    [missing] = _preflight_lines(elsewhere)
    assert missing.startswith("FAIL") and "no x86_64 image pinned for us-east-1" in missing

    old = plan.model_copy(update={"ami_ids": {"us-east-1": {"x86_64": "ami-0123456789abcdef0"}}})
    [behind] = _preflight_lines(old)
    assert behind.startswith("OK") and f"the newest AL2023 is {_newest('x86_64')}" in behind


def test_the_plan_reads_the_pins_from_cdk_context_json(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(
        json.dumps({"context": {"stage": "dev", "webInstanceType": "t4g.small"}})
    )
    pins = {"us-east-1": {"x86_64": "ami-0123456789abcdef0", "arm64": "ami-0fedcba9876543210"}}
    (tmp_path / "cdk.context.json").write_text(json.dumps({"amiIds": pins}))
    context = context_from([], tmp_path / "cdk.json", tmp_path / "cdk.context.json")
    plan = plan_for(context)
    assert plan.ami_ids == pins
    assert plan.ami_architectures == ["arm64", "x86_64"]  # a Graviton web tier, x86_64 workers
    assert plan_for({**context, "modelAmiId": "ami-0aaaaaaaaaaaaaaaa"}).ami_architectures == ["arm64"]


def test_synthesis_boots_the_pin_of_the_deploys_region_and_the_latest_only_when_nothing_is_pinned() -> None:
    stack = cdk.Stack(cdk.App(context=dict(FEATURE_FLAGS)), "Images")
    pins = {
        "us-east-1": {"x86_64": "ami-0123456789abcdef0"},
        "eu-west-1": {"x86_64": "ami-0fedcba9876543210"},
    }
    pinned = stack.resolve(machine_image(None, "x86_64", pins).get_image(stack).image_id)
    assert "Fn::FindInMap" in pinned and {"Ref": "AWS::Region"} in pinned["Fn::FindInMap"]
    [mapping] = cdk.assertions.Template.from_stack(stack).to_json()["Mappings"].values()
    assert {region: next(iter(v.values())) for region, v in mapping.items()} == {
        "us-east-1": "ami-0123456789abcdef0",
        "eu-west-1": "ami-0fedcba9876543210",
    }
    latest = stack.resolve(machine_image(None, "arm64", pins).get_image(stack).image_id)  # none for arm64
    assert "al2023" in json.dumps(latest)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"us-east-1": {"x86_64": "ubuntu"}}', "is not an architecture's AMI id"),
        ('{"us-east-1": {"sparc": "ami-0123456789abcdef0"}}', "is not an architecture's AMI id"),
        ('{"mars-1": {"x86_64": "ami-0123456789abcdef0"}}', "is not an AWS region name"),
        ("ami-0123456789abcdef0", "must be a JSON object"),
    ],
)
def test_a_malformed_pin_is_refused_at_synthesis(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServiceConfig.for_stage("dev", {"amiIds": value})
