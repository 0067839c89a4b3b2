"""What a deployment holds whatever its load: the fixed part of the bill, as counts.

The counts are what `infra/` synthesizes by default; tests/infra/test_bill_agrees.py reads them
back from the template (alarms by resolution and metric count, dashboards, load balancer AZs,
web capacity and processes), so a stack change that adds a billable thing moves the bill.
"""

from __future__ import annotations

from dataclasses import dataclass

from services import metric_names


@dataclass(frozen=True, slots=True)
class Deployment:
    web_instances: int = 1  # infra/config.py web_min_capacity: always on
    web_processes: int = 2  # infra/config.py web_processes, each with its reply queue
    # infra/config.py standby_workers: standby workers per web instance (its context key
    # standbyWorkers); each long-polls the request queue while the worker group is at zero.
    standby_workers: int = 1
    # The load balancer has a node (and a public IPv4 address) in each of the VPC's AZs
    # (infra/network.py: two AZs of public subnets).
    load_balancer_azs: int = 2
    # Instances in the public subnets get a public IPv4 address while running (no NAT gateway);
    # a Stopped warm-pool instance has none.
    public_ip_per_instance: int = 1
    # Custom metrics (services/metric_names.py): the depth pair the web tier publishes and the
    # worker's three; each metric-month is billed in full (an upper bound for the worker's).
    custom_metrics: int = len(
        (
            metric_names.QUEUE_VISIBLE,
            metric_names.QUEUE_IN_FLIGHT,
            metric_names.IMAGES_PROCESSED,
            metric_names.BATCH_LATENCY,
            metric_names.IMAGE_LATENCY,
        )
    )
    # Alarm metrics, as CloudWatch bills them (a metric-math alarm pays per metric it reads):
    # the fast alarms (10 s) and the 1-minute ones (backstop, dead letters), read back from the
    # template by the agreement test; plus the two alarms a target-tracking policy creates for
    # the web group (EC2 Auto Scaling user guide, target tracking: "creates and manages the
    # CloudWatch alarms"), which are not in the template.
    high_resolution_alarm_metrics: int = 3
    standard_alarm_metrics: int = 9 + 2
    dashboards: int = 1
    # Log ingestion while idle: VPC flow logs of health checks and long polls, the agents' and
    # the service's own lines; an estimate (~0.2 GB a month), not a measurement.
    idle_log_gb_month: float = 0.2
    # What one upload weighs on the load balancer and in S3 (the input, kept input_expiry_days):
    # an estimate for phone photos re-encoded for the web (~200 KB), not a measurement.
    upload_bytes: float = 200_000.0
    input_expiry_days: int = 30  # infra/config.py


DEPLOYED = Deployment()
