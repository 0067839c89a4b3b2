"""The bill's fixed part (services/elasticity/simulator/deployment.py) is what the app synthesizes:
alarms by resolution and metric count, dashboards, the load balancer's AZs, web capacity and
processes, the warm pool and volumes. A stack change that adds something billable fails here."""

from __future__ import annotations

from typing import Any

from infra.config import ServiceConfig
from services.elasticity.simulator.calibration import CLOUD
from services.elasticity.simulator.deployment import DEPLOYED
from services.elasticity.simulator.requests import Clocks
from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings
from tests.infra.synthesis import Synthesized

HIGH_RESOLUTION_SECONDS = 60


def _alarm_metrics(alarm: dict[str, Any]) -> tuple[int, bool]:
    """(metrics billed, high resolution): one per metric a metric-math alarm reads."""
    props = alarm["Properties"]
    if "Metrics" in props:
        stats = [m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m]
        return len(stats), min(s["Period"] for s in stats) < HIGH_RESOLUTION_SECONDS
    return 1, props["Period"] < HIGH_RESOLUTION_SECONDS


def test_alarms_dashboards_and_addresses_are_what_the_bill_counts(synthesized: Synthesized) -> None:
    high = standard = 0
    for alarm in synthesized.of_type("AWS::CloudWatch::Alarm").values():
        count, high_resolution = _alarm_metrics(alarm)
        if high_resolution:
            high += count
        else:
            standard += count
    target_tracking = len(synthesized.of_type("AWS::AutoScaling::ScalingPolicy"))  # sanity below
    assert target_tracking > 0
    tracking_policies = [
        p
        for p in synthesized.of_type("AWS::AutoScaling::ScalingPolicy").values()
        if p["Properties"].get("PolicyType") == "TargetTrackingScaling"
    ]
    assert high == DEPLOYED.high_resolution_alarm_metrics
    # Each target-tracking policy brings two alarms (high, low) the template does not hold.
    assert standard + 2 * len(tracking_policies) == DEPLOYED.standard_alarm_metrics
    assert len(synthesized.of_type("AWS::CloudWatch::Dashboard")) == DEPLOYED.dashboards
    [balancer] = synthesized.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert len(balancer["Properties"]["Subnets"]) == DEPLOYED.load_balancer_azs
    assert not synthesized.of_type("AWS::EC2::NatGateway")  # it would be the largest idle item


def test_capacities_and_clocks_are_the_deployed_defaults() -> None:
    config = ServiceConfig()
    assert DEPLOYED.web_instances == config.web_min_capacity
    assert DEPLOYED.web_processes == config.web_processes
    assert DEPLOYED.standby_workers == config.standby_workers
    assert DEPLOYED.input_expiry_days == config.input_expiry_days
    assert CLOUD.warm_pool_size == config.warm_pool_size
    assert CLOUD.volume_gib == config.volume_gib
    web = WebSettings()
    assert Clocks() == Clocks(
        reply_poll_seconds=web.reply_poll_seconds,
        orphan_sweep_seconds=web.orphan_sweep_seconds,
        reply_heartbeat_seconds=web.reply_heartbeat_seconds,
        depth_metric_seconds=config.scaling.period_seconds,
        standby_poll_seconds=WorkerSettings().standby_poll_seconds,
        job_monitor_seconds=web.job_monitor_seconds,
    )
    assert CLOUD.standby.gate_seconds == WorkerSettings().standby_gate_seconds
