"""Every list price the bill uses: AWS us-east-1, On-Demand, Linux, read from AWS's pricing pages
(named per field) in 2026-12 (`DATE`). Check them before relying on a figure; a region other than
us-east-1 costs more. Free tiers are not subtracted (a deployment should not rely on them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DATE = "2026-12"
# AWS prices a month as 730 hours (e.g. the EC2 and ELB pricing pages' monthly examples).
MONTH_HOURS = 730.0
MONTH_SECONDS = MONTH_HOURS * 3600.0


@dataclass(frozen=True, slots=True)
class Prices:
    # EC2 On-Demand pricing page (aws.amazon.com/ec2/pricing/on-demand), per instance-hour.
    # Billing is per second with a 60-second minimum per instance start (same page).
    per_hour: dict[str, float] = field(
        default_factory=lambda: {
            "c7i.large": 0.08925,
            "c7i.xlarge": 0.1785,
            "c6i.large": 0.085,
            "c7g.large": 0.0725,
            "c7g.xlarge": 0.145,
            "t3.small": 0.0208,
            "t3.medium": 0.0416,
            "t4g.small": 0.0168,
        }
    )
    minimum_billed_seconds: float = 60.0
    # Amazon EBS pricing page: gp3, per GB-month (a Stopped warm-pool instance pays only this).
    ebs_gb_month: float = 0.08
    # Elastic Load Balancing pricing page: Application Load Balancer hour and LCU-hour. One LCU is
    # the largest of: 25 new connections/s, 3 000 active connections/min, 1 GB processed per hour
    # (EC2 targets), 1 000 rule evaluations/s.
    alb_hour: float = 0.0225
    alb_lcu_hour: float = 0.008
    alb_lcu_gb_per_hour: float = 1.0
    # Amazon VPC pricing page: every public IPv4 address, in use or idle, since 2024-02-01.
    public_ipv4_hour: float = 0.005
    # Amazon CloudWatch pricing page: custom metric-month, alarm metric-month (standard 60 s /
    # high resolution 10-30 s; a metric-math alarm pays per metric in it), dashboard-month,
    # PutMetricData per 1 000 requests, Logs ingestion per GB (vended logs, e.g. VPC flow
    # logs, the same in their first tier).
    custom_metric_month: float = 0.30
    alarm_metric_month: float = 0.10
    high_resolution_alarm_metric_month: float = 0.30
    dashboard_month: float = 3.00
    put_metric_data_per_1000: float = 0.01
    logs_ingestion_gb: float = 0.50
    # Amazon S3 pricing page: S3 Standard per GB-month; PUT, COPY, POST, LIST per 1 000;
    # GET and the others per 1 000; DELETE is free.
    s3_gb_month: float = 0.023
    s3_put_per_1000: float = 0.005
    s3_get_per_1000: float = 0.0004
    # Amazon SQS pricing page: standard queue, per million requests (each 64 KB chunk one).
    sqs_per_million: float = 0.40

    def instance_second(self, instance_type: str) -> float:
        try:
            return self.per_hour[instance_type] / 3600.0
        except KeyError:
            raise ValueError(f"no price for {instance_type!r}; known: {sorted(self.per_hour)}") from None

    def request(self, service: str, action: str) -> float:
        """What one API request costs."""
        if service == "sqs":
            return self.sqs_per_million / 1e6
        if service == "s3":
            if action.startswith("Delete"):
                return 0.0
            if action in ("PutObject", "CopyObject", "ListObjectsV2", "CreateBucket"):
                return self.s3_put_per_1000 / 1000
            return self.s3_get_per_1000 / 1000
        if service == "monitoring" and action == "PutMetricData":
            return self.put_metric_data_per_1000 / 1000
        return 0.0
