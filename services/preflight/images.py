"""Is the machine image pinned for the region the deploy goes into (and is it the newest)?"""

from __future__ import annotations

from collections.abc import Iterator

from services.ports.deployment import PreflightProbe
from services.preflight.findings import Finding
from services.preflight.plan import PreflightPlan

MOVE = "make refresh-ami (evision ami pin) moves the pin to the newest AL2023, a rollout of both groups"


def check_machine_images(plan: PreflightPlan, probe: PreflightProbe, region: str) -> Iterator[Finding]:
    if not plan.ami_ids:
        yield Finding(
            "amiIds",
            "warn",
            "no Amazon Linux 2023 image is pinned: each deploy takes the newest",
            "every AL2023 release (about every two weeks) rolls both groups on the next deploy",
            "make refresh-ami (evision ami pin) pins it in cdk.context.json; commit that file",
        )
        return
    pinned = plan.ami_ids.get(region, {})
    for architecture in plan.ami_architectures:
        image = pinned.get(architecture)
        if image is None:
            yield Finding(
                "amiIds",
                "fail",
                f"no {architecture} image pinned for {region} (pinned: {sorted(plan.ami_ids)})",
                "CloudFormation finds no image in the stack's mapping for this region",
                f"evision ami pin --region {region} (make refresh-ami)",
            )
            continue
        latest = probe.latest_image(architecture)
        note = "the newest AL2023" if latest == image else f"the newest AL2023 is {latest}: {MOVE}"
        yield Finding("amiIds", "ok", f"{architecture} instances boot {image} ({note})")
