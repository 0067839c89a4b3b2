"""The whole CDK app synthesized as `make synth` does, and what the tests read from the result.

Synthesis of the whole app costs ~10 s and ~500 MB (field notes): the session-scoped fixtures of
conftest.py synthesize each context below once, through `synthesize`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before the first aws_cdk import starts the jsii runtime (Node 20 end-of-life banner).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
import pytest

from infra.config import FEATURE_FLAGS

ROOT = Path(__file__).resolve().parents[2]
STACK = "ElasticVision-dev"


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    template: dict[str, Any]
    stack: str = STACK

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template["Resources"]
        return resources

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == cfn_type}

    @property
    def assets(self) -> dict[str, Any]:
        assets: dict[str, Any] = json.loads((self.outdir / f"{self.stack}.assets.json").read_text())
        return assets

    @property
    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report


# The front door's options on: HTTPS, the WAF rule, API keys from SSM, the web tier's rate limit,
# buckets of the owner's for jobs; and the standby workers off (the one synthesis with
# non-default options).
FRONT_DOOR_CONTEXT = {
    "standbyWorkers": "0",
    "certificateArn": "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000000",
    "wafRateLimit": "1000",
    "apiKeysParameter": "/evision/api-keys",
    "webhookSecretParameter": "/evision/webhook-secret",
    "rateLimitPerSecond": "5",
    "jobSourceBuckets": "my-photos,more-photos",
    "jobOutputBuckets": "my-labels",
    "jobKmsKeys": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}


# Every context option that grows the user data, at its largest: the front door's (its parameter
# names are in the web tier's environment), four standbys (their settings beside the web's),
# OpenVINO workers (a longer lock name, the engine setting) and the largest numbers of digits; in
# prod (the longer stack name; the one synthesis of the prod stage).
EVERY_OPTION_CONTEXT = {
    **FRONT_DOOR_CONTEXT,
    "stage": "prod",
    "standbyWorkers": "4",
    "engine": "openvino",
    "sshCidr": "203.0.113.0/24",
    "alarmEmail": "alarms@example.com",
    "maxReceives": "1000",
    "webWaitSeconds": "3600",
    "webProcesses": "64",
    "webMaxCapacity": "100",
    "maxCapacity": "100",
    "warmPoolSize": "100",
}


def synthesize(tmp_path_factory: pytest.TempPathFactory, context: dict[str, str]) -> Synthesized:
    """`app.py` exactly as `python app.py` runs it (cdk-nag included) with `context` on top of
    cdk.json's (what the CLI gives it), into a temporary cdk.out: what `make synth` produces."""
    from app import build_app
    from infra.wheelhouse import main as make_wheelhouse

    make_wheelhouse()  # what `make synth` does first: the bundles carry the instances' wheels
    outdir = tmp_path_factory.mktemp("cdk.out")
    cdk_json = json.loads((ROOT / "cdk.json").read_text())
    app = cdk.App(outdir=str(outdir), context={**FEATURE_FLAGS, **cdk_json["context"], **context})
    build_app(app).synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    stack = f"ElasticVision-{context.get('stage', 'dev')}"
    template = json.loads((outdir / f"{stack}.template.json").read_text())
    return Synthesized(outdir=outdir, template=template, stack=stack)
