"""`python -m infra.preflight_plan [-c key=value ...]`: the deployment's plan for `evision preflight`.

The same context as `cdk deploy` (cdk.json, then each `-c`), so the checks see the stack the
deploy would create: each tier's instance type at its peak count, the zones the VPC spans, the
API keys parameter and the certificate.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path

from infra.config import CONTEXT_KEYS, ServiceConfig
from infra.worker_refresh import MAX_HEALTHY_PERCENTAGE
from services.preflight.plan import PreflightPlan

ROOT = Path(__file__).resolve().parents[1]
VPC_ZONES = 2  # infra/network.py: the VPC's public subnets span two zones
# A deploy's instance refresh launches replacements before it terminates, up to this share of the
# group's capacity at once: at the maximum the workers' vCPU peak is twice the maximum's.
REFRESH_PEAK = MAX_HEALTHY_PERCENTAGE / 100


def context_from(
    arguments: list[str], cdk_json: Path = ROOT / "cdk.json", cached: Path = ROOT / "cdk.context.json"
) -> dict[str, str]:
    """cdk.json's context and cdk.context.json's (the pinned images), overridden by `-c
    key=value` / `--context key=value`, as the CDK CLI merges them."""
    values = dict(json.loads(cdk_json.read_text()).get("context", {}))
    if cached.is_file():
        values.update(json.loads(cached.read_text()))
    context = {k: _as_context_string(v) for k, v in values.items()}
    given = iter(arguments)
    for argument in given:
        if argument in ("-c", "--context"):
            key, _, value = next(given, "").partition("=")
            context[key] = value
    return context


def _as_context_string(value: object) -> str:
    """What `-c` would give: a list as `k=a,b`, an object as its JSON."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    return json.dumps(value) if isinstance(value, dict) else str(value)


def plan_for(context: dict[str, str]) -> PreflightPlan:
    stage = context.get("stage", "dev")
    config = ServiceConfig.for_stage(stage, {k: v for k, v in context.items() if k in CONTEXT_KEYS})
    instances: Counter[str] = Counter()
    instances[config.worker_instance_type] += math.ceil(config.scaling.max_capacity * REFRESH_PEAK)
    instances[config.web_instance_type] += config.web_max_capacity
    return PreflightPlan(
        stack=f"ElasticVision-{config.stage}",
        instances=dict(instances),
        availability_zones=VPC_ZONES,
        api_keys_parameter=config.api_keys_parameter,
        webhook_secret_parameter=config.webhook_secret_parameter,
        certificate_arn=config.certificate_arn,
        job_buckets=sorted({*config.job_source_buckets, *config.job_output_buckets}),
        ami_ids={region: dict(images) for region, images in config.ami_ids.items()},
        ami_architectures=sorted(
            {config.web_architecture, *([config.worker_architecture] if config.model_ami_id is None else [])}
        ),
    )


def main(arguments: list[str]) -> int:
    print(plan_for(context_from(arguments)).model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
