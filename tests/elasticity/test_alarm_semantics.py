"""Alarms as AWS runs them: an action re-invoked about once a minute while its alarm stays in
ALARM, and metric math's IF turning a missing value into 0 (services/elasticity/metric_math.py)."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

from services.elasticity.alarms import deployed_rules
from services.elasticity.metric_math import Const, Fill, If, Less, Metric
from services.elasticity.simulator import simulate
from services.elasticity.simulator.calibration import CLOUD
from services.elasticity.simulator.controllers import REINVOKE_SECONDS, AlarmController
from services.elasticity.simulator.metrics import MetricSeries
from services.elasticity.simulator.presets import DEPLOYED_POLICY
from services.elasticity.simulator.workloads import parse_workload
from services.elasticity.simulator.world import World


def test_an_action_runs_on_entering_alarm_then_once_a_minute_whatever_the_period() -> None:
    """A 10 s scale-out alarm with no warm-up, held in ALARM by a backlog no instance ever
    serves (they never boot): one +1 on entering, then one per minute - not one per period."""
    [scale_out] = [r for r in deployed_rules(DEPLOYED_POLICY)["fast"] if r.name == "ScaleOut"]
    eager = replace(scale_out, warmup_seconds=0)
    never = replace(CLOUD, phases=replace(CLOUD.phases, bootstrap=1e6), warm_pool_size=0)
    world = World(
        workload=parse_workload("burst:3000"),
        calibration=never,
        controller=AlarmController({"custom": (eager,)}, period=10.0),
        series={"custom": MetricSeries(10.0, 0.0)},
        tail_seconds=200.0,
    )
    world.run()
    times = [d.t for d in world.decisions]
    assert len(times) == 4, times  # entered at ~20 s, then 60 s apart within 200 s
    assert all(b - a >= REINVOKE_SECONDS - 1e-6 for a, b in pairwise(times)), times
    assert [d.after for d in world.decisions] == [1, 2, 3, 4]


def test_the_deployed_warm_up_spans_a_minute_so_the_reinvocation_costs_no_speed() -> None:
    """The fast scale-out's warm-up already spans the minute between actions: the capacity it
    adds counts towards the next step until then, so a per-period re-invocation could add no
    more. The deployed figures are the same either way. (Without the standby: its ~1 000
    answers before the first alarm put this burst just under the +6 step's edge.)"""
    [scale_out] = [r for r in deployed_rules(DEPLOYED_POLICY)["fast"] if r.name == "ScaleOut"]
    assert scale_out.warmup_seconds is not None and scale_out.warmup_seconds >= REINVOKE_SECONDS
    no_standby = replace(CLOUD, deployment=replace(CLOUD.deployment, standby_workers=0))
    result, _ = simulate("deployed", "burst:20000", calibration=no_standby)
    assert result.answered == 20000 and result.peak_instances >= 10


def test_if_turns_a_missing_value_into_zero_which_a_scale_in_alarm_reads_as_idle() -> None:
    web, sqs = [None, None, None], [3.0, None, None]  # SQS's last datapoints not arrived yet
    unfilled = If(Less(Fill(Metric("web"), -1), Const(0)), Metric("sqs"), Const(1))
    assert unfilled.evaluate({"web": web, "sqs": sqs}) == [3.0, 0.0, 0.0]
    [scale_in] = [r for r in deployed_rules(DEPLOYED_POLICY)["backstop"] if r.name == "BackstopScaleIn"]
    assert all(scale_in.breaches(v) for v in [0.0, 0.0])  # "idle" although work waits
    gated = scale_in.gated(sqs, web)
    assert gated == [3.0, scale_in.neutral, scale_in.neutral]
    assert not any(scale_in.breaches(v) for v in gated if v is not None)


def test_the_backstop_is_neutral_wherever_the_web_tier_published() -> None:
    [scale_out] = [r for r in deployed_rules(DEPLOYED_POLICY)["backstop"] if r.name == "BackstopScaleOut"]
    values = scale_out.gated([5000.0, None, 7000.0], [10.0, 0.0, None])
    assert values == [scale_out.neutral, scale_out.neutral, 7000.0]
    assert scale_out.backstop_expression() == (
        f"IF(FILL(web, -1) < 0, FILL(sqs, {scale_out.neutral:g}), {scale_out.neutral:g})"
    )
