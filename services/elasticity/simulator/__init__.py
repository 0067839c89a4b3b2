"""`evision simulate`: the cloud tier's elasticity, measured without a cloud.

A seeded discrete-event model of the request queue, CloudWatch metrics and alarms, EC2 Auto
Scaling and the worker instances' lifecycle, calibrated in `calibration.py` (every number with
its source), driven by the ONE policy (`alarm_rules`, `decide()`) or a comparator preset.
"""

from __future__ import annotations

from services.elasticity.policy import ScalingPolicy
from services.elasticity.simulator.calibration import Calibration
from services.elasticity.simulator.presets import PRESETS, deployed_world
from services.elasticity.simulator.results import RunResult, summarize
from services.elasticity.simulator.workloads import parse_workload
from services.elasticity.simulator.world import World

CUSTOM = "custom"


def simulate(
    preset: str,
    workload: str,
    *,
    seed: int = 1,
    calibration: Calibration | None = None,
    policy: ScalingPolicy | None = None,
) -> tuple[RunResult, World]:
    """Run `preset` on `workload` (a spec, see `workloads.py`); the figures and the world after it.

    `custom` runs `policy` deployed as ours is (its alarm rules on SQS's metrics).
    """
    arrivals = parse_workload(workload, seed=seed)
    if preset == CUSTOM:
        if policy is None:
            raise ValueError("the custom preset needs a policy")
        world = deployed_world(arrivals, policy, calibration)
    elif preset in PRESETS:
        world = PRESETS[preset].build(arrivals, calibration)
    else:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join([*PRESETS, CUSTOM])}")
    world.run()
    return summarize(preset, world), world


__all__ = ["CUSTOM", "PRESETS", "RunResult", "World", "simulate"]
