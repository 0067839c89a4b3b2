"""The bill, itemized: what a deployment costs idle, per simulated run, and per 1 000 images.

Two parts, priced with `prices.py`:
- fixed (`fixed_items`): what runs whatever the load, for a span of time: the web tier's
  instances, volumes and addresses, the warm pool's volumes, the load balancer's hours and
  addresses, CloudWatch's metrics, alarms, dashboard and the depth metric's PutMetricData, the
  idle requests of the web tier's background loops (`requests.idle_requests_per_second`) and
  an estimate of idle log ingestion;
- usage (`usage_items`): worker instance-seconds (with their volumes and addresses while
  running), the S3/SQS requests each upload makes (`requests.UPLOAD_REQUESTS`, counted on moto),
  the load balancer's LCUs for the bytes uploaded and the inputs kept in S3 until they expire.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from services.elasticity.simulator.calibration import Calibration
from services.elasticity.simulator.deployment import Deployment
from services.elasticity.simulator.prices import MONTH_SECONDS
from services.elasticity.simulator.requests import JOB_REQUESTS, UPLOAD_REQUESTS, idle_requests_per_second

CATEGORIES = ("compute", "storage", "load balancer", "public IPv4", "CloudWatch", "requests")
GB = 1e9
HOUR = 3600.0
DAY = 86_400.0
# The worker publishes its statistic sets once a minute while running (services/worker/metrics.py).
WORKER_METRICS_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class LineItem:
    category: str
    item: str
    usd: float


@dataclass(frozen=True)
class Bill:
    title: str
    items: tuple[LineItem, ...]

    @property
    def total(self) -> float:
        return sum(item.usd for item in self.items)

    def by_category(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for item in self.items:
            totals[item.category] += item.usd
        return {category: round(totals[category], 6) for category in CATEGORIES}

    def __add__(self, other: Bill) -> Bill:
        return Bill(self.title, self.items + other.items)


def fixed_items(seconds: float, deployment: Deployment, calibration: Calibration) -> list[LineItem]:
    """What the deployment costs for `seconds` with no upload at all."""
    prices = calibration.prices
    months = seconds / MONTH_SECONDS
    hours = seconds / HOUR
    web = deployment.web_instances
    addresses = web * deployment.public_ip_per_instance + deployment.load_balancer_azs
    alarms = (
        deployment.high_resolution_alarm_metrics * prices.high_resolution_alarm_metric_month
        + deployment.standard_alarm_metrics * prices.alarm_metric_month
    )
    idle = idle_requests_per_second(deployment, calibration.clocks)
    metric_puts = sum(rate for (service, _), rate in idle.items() if service == "monitoring")
    idle_requests = sum(
        rate * seconds * prices.request(service, action)
        for (service, action), rate in idle.items()
        if service != "monitoring"
    )
    return [
        LineItem(
            "compute",
            f"web: {web} x {calibration.web_instance_type}",
            web * seconds * prices.instance_second(calibration.web_instance_type),
        ),
        LineItem(
            "storage",
            f"EBS gp3: {web} web + {calibration.warm_pool_size} warm-pool volume(s) of "
            f"{calibration.volume_gib} GiB",
            (web + calibration.warm_pool_size) * calibration.volume_gib * prices.ebs_gb_month * months,
        ),
        LineItem("load balancer", "ALB hours", hours * prices.alb_hour),
        LineItem(
            "public IPv4",
            f"{addresses} addresses ({web} web, {deployment.load_balancer_azs} load balancer)",
            addresses * hours * prices.public_ipv4_hour,
        ),
        LineItem(
            "CloudWatch",
            f"{deployment.custom_metrics} custom metrics",
            deployment.custom_metrics * prices.custom_metric_month * months,
        ),
        LineItem(
            "CloudWatch",
            f"alarms: {deployment.high_resolution_alarm_metrics} high-resolution + "
            f"{deployment.standard_alarm_metrics} standard alarm metrics",
            alarms * months,
        ),
        LineItem("CloudWatch", "dashboard", deployment.dashboards * prices.dashboard_month * months),
        LineItem(
            "CloudWatch",
            f"PutMetricData: the depth every {calibration.clocks.depth_metric_seconds:g} s per web instance",
            metric_puts * seconds * prices.request("monitoring", "PutMetricData"),
        ),
        LineItem(
            "CloudWatch",
            f"logs ingestion (~{deployment.idle_log_gb_month:g} GB a month idle, estimate)",
            deployment.idle_log_gb_month * prices.logs_ingestion_gb * months,
        ),
        LineItem(
            "requests",
            "S3/SQS: the web tier's long polls (its standby's too), orphan sweeps and heartbeats",
            idle_requests,
        ),
    ]


def usage_items(
    uploads: int,
    worker_seconds: float,
    deployment: Deployment,
    calibration: Calibration,
    *,
    job: bool = False,
) -> list[LineItem]:
    """What `uploads` cost on top, with the workers billed for `worker_seconds` in all. Through a
    job (`job`), images are read from the user's bucket: no load balancer bytes, no input kept,
    and the job path's requests per image (`JOB_REQUESTS`)."""
    prices = calibration.prices
    counts = JOB_REQUESTS if job else UPLOAD_REQUESTS
    per_upload = sum(prices.request(service, action) * n for (service, action), n in counts.items())
    uploaded_gb = 0.0 if job else uploads * deployment.upload_bytes / GB
    # Processed bytes dominate the LCU at any rate this tier serves (1 GB/h per LCU vs 25 new
    # connections/s): LCU-hours = GB processed / (GB per LCU-hour).
    lcu_hours = uploaded_gb / prices.alb_lcu_gb_per_hour
    kept_months = deployment.input_expiry_days * DAY / MONTH_SECONDS
    return [
        LineItem(
            "compute",
            f"workers: {worker_seconds:,.0f} instance-s of {calibration.worker_instance_type}",
            worker_seconds * prices.instance_second(calibration.worker_instance_type),
        ),
        LineItem(
            "storage",
            "EBS gp3: running workers' volumes",
            worker_seconds / MONTH_SECONDS * calibration.volume_gib * prices.ebs_gb_month,
        ),
        LineItem(
            "storage",
            f"S3: inputs kept {deployment.input_expiry_days} days "
            f"(~{deployment.upload_bytes / 1000:g} KB each, estimate)",
            uploaded_gb * prices.s3_gb_month * kept_months,
        ),
        LineItem(
            "load balancer", f"ALB LCUs: {uploaded_gb:.3g} GB uploaded", lcu_hours * prices.alb_lcu_hour
        ),
        LineItem(
            "public IPv4",
            "running workers' addresses",
            worker_seconds / HOUR * deployment.public_ip_per_instance * prices.public_ipv4_hour,
        ),
        LineItem(
            "CloudWatch",
            "PutMetricData: workers' statistic sets",
            worker_seconds / WORKER_METRICS_SECONDS * prices.request("monitoring", "PutMetricData"),
        ),
        LineItem(
            "requests",
            f"S3/SQS: {sum(counts.values()):.3g} per {'image (job)' if job else 'upload'} "
            f"(counted on moto) x {uploads:,}",
            uploads * per_upload,
        ),
    ]


def idle_month(deployment: Deployment, calibration: Calibration) -> Bill:
    return Bill("idle month (730 h, no upload)", tuple(fixed_items(MONTH_SECONDS, deployment, calibration)))


def per_thousand_images(deployment: Deployment, calibration: Calibration, *, job: bool = False) -> Bill:
    """1 000 images at steady load: the workers busy (no start-up), on top of the fixed part."""
    seconds = 1000 / calibration.speed.images_per_second
    how = "through a job" if job else "at steady load"
    return Bill(
        f"1 000 images {how} (on top of the idle month)",
        tuple(usage_items(1000, seconds, deployment, calibration, job=job)),
    )
