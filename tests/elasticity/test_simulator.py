"""The simulator: conservation, the same alarm semantics as infra/scaling.py and decide(), and the
comparators' limits (`evision simulate`'s command line: tests/commands/test_simulate.py)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from services.elasticity.alarms import alarm_rules, deployed_rules
from services.elasticity.policy import ScalingPolicy, Step, decide
from services.elasticity.simulator import CUSTOM, PRESETS, simulate
from services.elasticity.simulator.calibration import CLOUD, PREVIOUS
from services.elasticity.simulator.controllers import AlarmController
from services.elasticity.simulator.metrics import MetricSeries
from services.elasticity.simulator.presets import DEPLOYED_POLICY
from services.elasticity.simulator.workloads import STANDARD_WORKLOADS, parse_workload
from services.elasticity.simulator.world import World
from services.ports.storage import QueueDepth
from tests.elasticity.policies import MODIFIED


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("workload", [*STANDARD_WORKLOADS, "steps:5@120,40@60,0@300"])
def test_every_upload_is_answered_or_still_queued(preset, workload):
    result, world = simulate(preset, workload)
    assert result.answered + result.still_queued == result.uploads == len(world.workload.arrivals)
    assert result.still_queued == 0  # the pool always recovers within the simulated tail
    assert world.in_flight == 0 and not world.queue
    assert result.back_to_min_after_last_answer_s is not None
    assert result.latency_max_s is not None and result.latency_max_s >= (result.latency_p50_s or 0) >= 0


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    first, _ = simulate("deployed", "poisson:20:300", seed=7)
    again, _ = simulate("deployed", "poisson:20:300", seed=7)
    other, _ = simulate("deployed", "poisson:20:300", seed=8)
    assert first == again and first.uploads != other.uploads


def test_the_deployed_preset_is_the_policy_infra_deploys():
    from infra.config import ServiceConfig

    assert ServiceConfig().scaling == DEPLOYED_POLICY
    config = ServiceConfig()
    assert (CLOUD.worker_instance_type, CLOUD.web_instance_type) == (
        config.worker_instance_type,
        config.web_instance_type,
    )
    assert (CLOUD.warm_pool_size, CLOUD.wait_seconds, CLOUD.volume_gib) == (
        config.warm_pool_size,
        config.web_wait_seconds,
        config.volume_gib,
    )


@pytest.mark.parametrize("policy", [DEPLOYED_POLICY, MODIFIED], ids=["default", "modified"])
def test_the_alarm_rules_are_what_infra_renders(policy):
    """Threshold, comparison, periods, datapoints and step bounds: read back from the template."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from tests.infra.stacks import queue_scaled_group

    stack = cdk.Stack(cdk.App(), "Sim")
    queue_scaled_group(stack, policy)
    template = Template.from_stack(stack)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    policies = template.find_resources("AWS::AutoScaling::ScalingPolicy")
    comparisons = {">=": "GreaterThanOrEqualToThreshold", "<=": "LessThanOrEqualToThreshold"}
    rules = [rule for rule_set in deployed_rules(policy).values() for rule in rule_set]
    assert len(rules) == len(alarms) == len(policies) == 5
    for rule in rules:
        [alarm] = [a["Properties"] for name, a in alarms.items() if name.startswith(f"{rule.name}Alarm")]
        [action] = [p["Properties"] for name, p in policies.items() if name.startswith(f"{rule.name}Policy")]
        assert alarm["Threshold"] == rule.threshold
        assert alarm["ComparisonOperator"] == comparisons[rule.comparison]
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
            rule.evaluation_periods,
            rule.datapoints_to_alarm,
        )
        periods = {m.get("MetricStat", {}).get("Period") for m in alarm.get("Metrics", [])} - {None}
        assert (alarm.get("Period") or periods.pop()) == rule.period_seconds
        assert action["AdjustmentType"] == rule.adjustment_type
        steps = [
            (s.get("MetricIntervalLowerBound"), s.get("MetricIntervalUpperBound"), s["ScalingAdjustment"])
            for s in action["StepAdjustments"]
        ]
        assert sorted(steps, key=str) == sorted(
            [(a.lower, a.upper, a.change) for a in rule.adjustments], key=str
        )


def _open_loop(policy: ScalingPolicy, series: list[QueueDepth]) -> tuple[list[int], list[int]]:
    """The desired capacity per period from decide() and from the simulator's alarms, fed the same series."""
    workload = parse_workload("burst:0")
    metrics = MetricSeries(policy.period_seconds, 0.0)
    controller = AlarmController({"sqs": alarm_rules(policy)}, period=policy.period_seconds)
    world = World(
        workload=workload,
        calibration=CLOUD,
        controller=controller,
        min_capacity=policy.min_capacity,
        max_capacity=policy.max_capacity,
        series={"sqs": metrics},
    )
    by_alarms, by_decide = [], []
    current, state, history = policy.min_capacity, None, []
    for index, sample in enumerate(series):
        t = index * policy.period_seconds
        metrics.record(t, visible=sample.visible, in_flight=sample.in_flight, desired=world.desired)
        world.now = t + policy.period_seconds  # the period has ended: its datapoint is in
        controller.tick(world, world.now)
        by_alarms.append(world.desired)
        history.append(sample)
        decision = decide(policy, history, current, state)
        current, state = decision.desired, decision.state
        by_decide.append(current)
    return by_alarms, by_decide


@pytest.mark.parametrize("policy", [DEPLOYED_POLICY, MODIFIED], ids=["default", "modified"])
def test_the_simulated_alarms_decide_what_decide_does(policy):
    """One semantics: the CloudWatch alarms (as rendered) and decide() give the same capacity."""
    rng = random.Random(3)
    levels = [0, 0, 1, 150, 250, 900, 1200, 4000, 6000, 25000]
    series = [QueueDepth(rng.choice(levels), rng.choice([0, 0, 5])) for _ in range(300)]
    series += [QueueDepth(0, 0)] * 12
    by_alarms, by_decide = _open_loop(policy, series)
    assert by_alarms == by_decide
    assert max(by_alarms) > 1 and by_alarms[-1] == policy.min_capacity


def test_changing_only_the_policy_changes_the_simulated_cloud():
    workload = "steps:400@120"  # three times what one instance classifies, for two minutes
    base, _ = simulate(CUSTOM, workload, policy=DEPLOYED_POLICY)
    slow, _ = simulate(
        CUSTOM, workload, policy=replace(DEPLOYED_POLICY, period_seconds=30, backstop_period_seconds=120)
    )
    timid, _ = simulate(
        CUSTOM, workload, policy=replace(DEPLOYED_POLICY, scale_out_steps=(Step(50_000, None, 1),))
    )
    times = [run.time_to_last_answer_s for run in (base, slow, timid)]
    assert None not in times and sorted(times) == times and len(set(times)) == 3  # type: ignore[type-var]
    assert base.peak_instances > slow.peak_instances > timid.peak_instances == 1


def test_cdk_queue_processing_cannot_react_before_its_five_minute_metric():
    _, world = simulate("cdk-queue-processing", "burst:500")
    first = world.decisions[0]
    assert first.after > first.before
    metrics = CLOUD.metrics
    # The 5-minute period's last sample (at 240 s) must have arrived: never before 5 minutes.
    assert first.t >= 300 - metrics.sqs_resolution + metrics.sqs_lag >= 300


def test_a_cold_burst_on_the_previous_stack_waited_for_the_metric_and_a_boot():
    result, _ = simulate("previous", "burst:100")
    phases, metrics = PREVIOUS.phases, PREVIOUS.metrics
    # The first datapoint (t=0) is seen `sqs_lag` later; the instance then boots and installs.
    expected = metrics.sqs_lag + phases.cold_start
    assert result.first_answer_s == pytest.approx(expected, abs=2.0)
    assert result.answered_202 == 100


NO_STANDBY = replace(CLOUD, deployment=replace(CLOUD.deployment, standby_workers=0))


def test_a_cold_burst_on_the_deployed_stack_is_answered_in_seconds():
    """The fast-cloud targets, by the worker group alone (no standby): every upload within 60 s,
    none past the web wait, back to the minimum within 60 s of the last answer, and an idle day
    no dearer than before."""
    result, world = simulate("deployed", "burst:100", calibration=NO_STANDBY)
    phases = CLOUD.phases
    assert world.decisions[0].reason.startswith("activation")
    assert result.first_answer_s == pytest.approx(CLOUD.activation_delay + phases.warm_start, abs=1.5)
    assert result.latency_max_s is not None and result.latency_max_s <= 60
    assert result.answered_202 == 0 and CLOUD.wait_seconds <= 60
    assert result.back_to_min_after_last_answer_s is not None and result.back_to_min_after_last_answer_s <= 60
    day, _ = simulate("deployed", "day", calibration=NO_STANDBY)
    before, _ = simulate("previous", "day")
    assert day.cost_usd <= before.cost_usd and day.answered_202 == 0


def test_the_standby_answers_a_cold_burst_within_seconds_and_the_activation_stays():
    """The zero-wait targets: the first of 100 uploads to an idle stack answered within 2 s and
    the last within 10 s, by the web tier's standby; the first upload still raises the group."""
    result, world = simulate("deployed", "burst:100")
    assert result.first_answer_s is not None and result.first_answer_s <= 2.0
    assert result.time_to_last_answer_s is not None and result.time_to_last_answer_s <= 10.0
    assert result.answered_by_standby == 100 == result.answered
    assert world.decisions[0].reason.startswith("activation")
    without, _ = simulate("deployed", "burst:100", calibration=NO_STANDBY)
    assert without.first_answer_s is not None and without.first_answer_s > 10 * result.first_answer_s


def test_the_standby_takes_no_batch_once_the_gate_has_seen_a_worker_in_service():
    """A burst larger than the standby can bridge: it answers until the first worker is in
    service (and at most one gate interval after), the workers answer the rest."""
    result, world = simulate("deployed", "burst:2000")
    first = world.first_in_service()
    assert first is not None
    started = [t for standby in world.standbys for t in standby.batches_started]
    assert started and max(started) <= first + CLOUD.standby.gate_seconds
    assert 0 < result.answered_by_standby < result.answered == result.uploads


@pytest.mark.parametrize("workload", ["burst:2000", "poisson:50:1800", "day"])
def test_the_standby_costs_no_more_and_shortens_the_worst_wait(workload):
    """Whatever the workload, the standby leaves the bill within 1 % and the slowest answer no
    later than the worker group alone gives it."""
    with_standby, _ = simulate("deployed", workload)
    without, _ = simulate("deployed", workload, calibration=NO_STANDBY)
    assert with_standby.cost_usd <= without.cost_usd * 1.01
    assert with_standby.latency_max_s is not None and without.latency_max_s is not None
    assert with_standby.latency_max_s <= without.latency_max_s
    assert with_standby.answered == without.answered == with_standby.uploads


def test_the_backstop_acts_only_while_the_web_tier_publishes_nothing():
    """A stale idle SQS backstop must not undo an activation; without the web's metric it scales."""
    _, world = simulate("deployed", "burst:2000")
    assert not [d for d in world.decisions if d.reason.startswith("Backstop")]
    silent = replace(CLOUD, metrics=replace(CLOUD.metrics, custom_resolution=1e9))  # the web tier is gone
    result, world = simulate(CUSTOM, "burst:100", policy=DEPLOYED_POLICY, calibration=silent)
    assert result.answered == 100
    assert any(d.reason.startswith("BackstopScale") for d in world.decisions)


def test_the_maximum_throughput_line_weighs_the_web_tier_against_the_workers() -> None:
    from services.elasticity.simulator.calibration import CLOUD
    from services.elasticity.simulator.capacity import deployment_maximum
    from services.elasticity.web_capacity import WebCapacity

    web = WebCapacity(cpu_ms_per_upload=4.0, vcpus=2)
    assert web.uploads_per_second == 500 and web.target_requests_per_minute == 15_000
    one = deployment_maximum(CLOUD, workers=20, web_instances=1, web=web)
    assert (one.web_uploads_per_second, one.bound_by) == (500, "web tier")
    four = deployment_maximum(CLOUD, workers=2, web_instances=4, web=web)
    assert four.worker_images_per_second == 2 * CLOUD.speed.images_per_second and four.bound_by == "workers"
    assert "web 4 x t3.small = 2,000 uploads/s" in four.describe(CLOUD)


def test_a_job_of_a_million_images_runs_at_the_full_pool_for_a_fraction_of_the_upload_bill():
    """`job:N`: keys planned at the lister's pace, chunks of 50 per receive, the job path's
    requests; the pool grows to its maximum and the job costs far less per image than uploads."""
    job, _ = simulate("deployed", "job:1000000")
    assert job.answered == 1_000_000 and job.peak_instances == DEPLOYED_POLICY.max_capacity
    assert job.answered_202 == 0 and job.time_to_last_answer_s is not None
    at_full_speed = 1_000_000 / (DEPLOYED_POLICY.max_capacity * CLOUD.speed.images_per_second)
    assert at_full_speed < job.time_to_last_answer_s < 2 * at_full_speed
    uploads, _ = simulate("deployed", "burst:1000000")
    assert job.bill_usd["requests"] < uploads.bill_usd["requests"] / 5
