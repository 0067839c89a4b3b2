"""Named set-ups to compare on one workload: ours as deployed, the usual AWS recipe, the seeds', local.

- `deployed`: the stack as `infra/` synthesizes it: the ONE policy's fast alarms (10 s, on the
  depth the web tier publishes) and its backstop (SQS's 1-minute metrics), activation from zero by
  the web tier on the first upload, a warm pool of Stopped instances reused on scale-in.
- `previous`: the stack before that: the policy at 1-minute periods on SQS's metrics only, every
  instance bootstrapped from nothing, the 30 s web wait.
- `cdk-queue-processing`: CDK's QueueProcessingService defaults: steps [<=0: -1], [>=100: +1],
  [>=500: +5] on a 5-minute Maximum of visible messages (aws-ecs-patterns QueueProcessingServiceBase,
  `scalingSteps` default), 1 evaluation period, the group's default 300 s warm-up.
- `seed-controller`: the seeds' own controller: the queue polled every 5 s, one instance per
  waiting message up to 20, instances that terminate themselves once a receive finds nothing.
- `local`: `evision up` on this machine: the supervisor applying `decide()` every second to at
  most 2 worker processes (one per core here).
- any policy: `custom` with a ScalingPolicy as JSON (`--policy-file`), deployed like ours.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from services.elasticity.alarms import BACKSTOP, FAST, AlarmRule, StepAdjustment, alarm_rules, deployed_rules
from services.elasticity.policy import ScalingPolicy, Step
from services.elasticity.simulator.calibration import CLOUD, LOCAL, PREVIOUS, Calibration
from services.elasticity.simulator.controllers import AlarmController, SeedController, SupervisorController
from services.elasticity.simulator.metrics import MetricSeries
from services.elasticity.simulator.workloads import Workload
from services.elasticity.simulator.world import World

LOCAL_WORKERS = 2  # one per core on the 2-vCPU machines this project runs on
# What infra/config.py deploys by default (a test checks they are equal; the runtime package
# does not ship infra/, so it is not imported here).
DEPLOYED_POLICY = ScalingPolicy()
PREVIOUS_POLICY = ScalingPolicy(period_seconds=60.0, scale_in_idle_periods=5, warmup_periods=3)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    build: Callable[[Workload, Calibration | None], World]
    calibration: Calibration = CLOUD  # what it runs on unless given another


def deployed_world(
    workload: Workload, policy: ScalingPolicy, calibration: Calibration | None = None
) -> World:
    """`policy` as `infra/` deploys it now: the fast rules on the web tier's 10 s depth metric,
    the backstop on SQS's 1-minute metrics, activation from zero by the web tier, a warm pool."""
    calibration = calibration or CLOUD
    metrics = calibration.metrics
    rules = deployed_rules(policy)
    return World(
        workload=workload,
        calibration=calibration,
        controller=AlarmController(
            {"custom": rules[FAST], "sqs": rules[BACKSTOP]},
            period=policy.period_seconds,
            activate_to=policy.scale_from_zero_to,
            activation_delay=calibration.activation_delay,
            activation_interval=calibration.activation_interval,
            nudge_series="custom",
            gates={"sqs": "custom"},
        ),
        min_capacity=policy.min_capacity,
        max_capacity=policy.max_capacity,
        warm_pool=calibration.warm_pool_size,
        reuse_on_scale_in=True,
        standby=calibration.deployment.web_instances * calibration.deployment.standby_workers,
        series={
            "custom": MetricSeries(metrics.custom_resolution, metrics.custom_lag),
            "sqs": MetricSeries(metrics.sqs_resolution, metrics.sqs_lag),
        },
    )


def previous_world(workload: Workload, calibration: Calibration | None = None) -> World:
    """The stack before the fast-cloud work: the policy at 1-minute periods on SQS's metrics only
    (5 idle minutes to scale in), every instance bootstrapped from nothing."""
    calibration = calibration or PREVIOUS
    metrics = calibration.metrics
    return World(
        workload=workload,
        calibration=calibration,
        controller=AlarmController({"sqs": alarm_rules(PREVIOUS_POLICY)}, period=60.0),
        min_capacity=PREVIOUS_POLICY.min_capacity,
        max_capacity=PREVIOUS_POLICY.max_capacity,
        series={"sqs": MetricSeries(metrics.sqs_resolution, metrics.sqs_lag)},
    )


def cdk_queue_processing_rules(
    period_seconds: float = 300.0, warmup_seconds: int = 300
) -> tuple[AlarmRule, ...]:
    [scale_out] = [rule for rule in alarm_rules(DEPLOYED_POLICY) if rule.name == "ScaleOut"]
    upper = replace(
        scale_out,
        name="Upper",
        description="CDK QueueProcessingService: visible >= 100",
        period_seconds=period_seconds,
        threshold=100,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        adjustments=(StepAdjustment(change=1, lower=0, upper=400), StepAdjustment(change=5, lower=400)),
        warmup_seconds=warmup_seconds,
    )
    lower = replace(
        upper,
        name="Lower",
        description="CDK QueueProcessingService: visible <= 0",
        threshold=0,
        comparison="<=",
        adjustments=(StepAdjustment(change=-1, upper=0),),
        warmup_seconds=None,
    )
    return (upper, lower)


def _deployed(workload: Workload, calibration: Calibration | None) -> World:
    return deployed_world(workload, DEPLOYED_POLICY, calibration)


def _previous(workload: Workload, calibration: Calibration | None) -> World:
    return previous_world(workload, calibration)


def _cdk(workload: Workload, calibration: Calibration | None) -> World:
    calibration = calibration or PREVIOUS
    metrics = calibration.metrics
    policy = DEPLOYED_POLICY
    return World(
        workload=workload,
        calibration=calibration,
        controller=AlarmController({"sqs": cdk_queue_processing_rules()}, period=60.0),
        min_capacity=policy.min_capacity,
        max_capacity=policy.max_capacity,
        series={"sqs": MetricSeries(metrics.sqs_resolution, metrics.sqs_lag)},
    )


def _seed(workload: Workload, calibration: Calibration | None) -> World:
    calibration = calibration or PREVIOUS
    return World(
        workload=workload,
        calibration=calibration,
        controller=SeedController(period=5.0),
        max_capacity=20,
        series={},
        self_terminating_workers=True,
    )


def local_world(
    workload: Workload,
    calibration: Calibration | None = None,
    *,
    period_seconds: float = 1.0,
    workers: int = LOCAL_WORKERS,
) -> World:
    policy = ScalingPolicy().local(period_seconds=period_seconds, max_capacity=workers, cpu_count=workers)
    return World(
        workload=workload,
        calibration=calibration or LOCAL,
        controller=SupervisorController(policy),
        min_capacity=policy.min_capacity,
        max_capacity=policy.max_capacity,
        series={},
    )


def _local(workload: Workload, calibration: Calibration | None) -> World:
    return local_world(workload, calibration)


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("deployed", "our stack as infra/ synthesizes it", _deployed),
        Preset(
            "previous", "our stack before the fast-cloud work (1-minute alarms only)", _previous, PREVIOUS
        ),
        # The two recipes as they come: instances installing from a package index, no warm pool.
        Preset("cdk-queue-processing", "CDK QueueProcessingService defaults", _cdk, PREVIOUS),
        Preset("seed-controller", "poll every 5 s, one instance per waiting message", _seed, PREVIOUS),
        Preset("local", "evision up: the supervisor, 1 s periods, 2 workers", _local, LOCAL),
    )
}
CLOUD_PRESETS = ("deployed", "previous", "cdk-queue-processing", "seed-controller")


def policy_from_file(path: Path) -> ScalingPolicy:
    """A ScalingPolicy from JSON: its fields, `scale_out_steps` as [[lower, upper, change], ...]."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of ScalingPolicy fields")
    if "scale_out_steps" in data:
        data["scale_out_steps"] = tuple(Step(*step) for step in data["scale_out_steps"])
    try:
        return ScalingPolicy(**data)
    except TypeError as exc:
        raise ValueError(f"{path}: {exc}") from None
