"""One CloudWatch dashboard: queue (1 min and 10 s), dead letters, worker group (desired, in service,
warm), worker throughput/latency, web errors, and the front door (load balancer and web group)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from services import metric_names as names

PERIOD = Duration.minutes(1)  # SQS and group metrics are published every minute
WIDTH = 8  # three widgets per row (the grid is 24 wide)


def custom(metric: str, service: str, statistic: str, label: str) -> cw.Metric:
    return cw.Metric(
        namespace=names.NAMESPACE,
        metric_name=metric,
        dimensions_map={names.SERVICE: service},
        statistic=statistic,
        period=PERIOD,
        label=label,
    )


# Logs Insights over the roles' groups: the services' JSON records at ERROR or worse, and the
# bootstrap's failures (its plain lines say FAILED).
ERRORS_QUERY = [
    "fields @timestamp, @logStream, level, logger, message, exception, @message",
    "filter level in ['ERROR', 'CRITICAL'] or @message like /FAILED|Traceback/",
    "sort @timestamp desc",
    "limit 100",
]


@dataclass(frozen=True, kw_only=True)
class FrontDoorMetrics:
    """Where the front door's metrics come from: the load balancer, its web targets, their group."""

    load_balancer: elbv2.IApplicationLoadBalancer
    target_group: elbv2.IApplicationTargetGroup
    web_group_name: str


def group_metric(metric: str, label: str, group_name: str) -> cw.Metric:
    """An Auto Scaling group metric (published every minute once group metrics are on)."""
    return cw.Metric(
        namespace="AWS/AutoScaling",
        metric_name=metric,
        dimensions_map={"AutoScalingGroupName": group_name},
        statistic=cw.Stats.MAXIMUM,
        period=PERIOD,
        label=label,
    )


def graph(title: str, left: list[cw.IMetric], right: list[cw.IMetric] | None = None) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=left, right=right or [], width=WIDTH, height=6)


def request_queue_graph(queue: sqs.IQueue) -> cw.GraphWidget:
    maximum = cw.Stats.MAXIMUM
    return graph(
        "Request queue",
        [
            queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic=maximum, label="visible"
            ),
            queue.metric_approximate_number_of_messages_not_visible(
                period=PERIOD, statistic=maximum, label="in flight"
            ),
        ],
        [
            queue.metric_approximate_age_of_oldest_message(
                period=PERIOD, statistic=maximum, label="age of oldest (s)"
            )
        ],
    )


def dead_letters(queue: sqs.IQueue, label: str | None = None) -> cw.Metric:
    return queue.metric_approximate_number_of_messages_visible(
        period=PERIOD, statistic=cw.Stats.MAXIMUM, label=label
    )


def worker_group_graph(group_name: str) -> cw.GraphWidget:
    return graph(
        "Worker group",
        [
            group_metric("GroupDesiredCapacity", "desired", group_name),
            group_metric("GroupInServiceInstances", "in service", group_name),
            group_metric("WarmPoolWarmedCapacity", "warm (Stopped)", group_name),
        ],
    )


def fast_queue_graph(queue: sqs.IQueue) -> cw.GraphWidget:
    """What the fast alarms read: the web tier's 10 s depth (high resolution, StorageResolution=1)."""
    return graph(
        "Request queue, 10 s (web tier)",
        [
            cw.Metric(
                namespace=names.NAMESPACE,
                metric_name=metric,
                dimensions_map={names.QUEUE: queue.queue_name},
                statistic=cw.Stats.MAXIMUM,
                period=Duration.seconds(10),
                label=label,
            )
            for metric, label in ((names.QUEUE_VISIBLE, "visible"), (names.QUEUE_IN_FLIGHT, "in flight"))
        ],
    )


def worker_throughput_graph() -> cw.GraphWidget:
    return graph(
        "Worker throughput (images/min)",
        [custom(names.IMAGES_PROCESSED, names.WORKER, cw.Stats.SUM, "images processed")],
    )


def worker_latency_graph() -> cw.GraphWidget:
    return graph(
        "Worker latency (ms)",
        [
            # The worker publishes statistic sets (count/sum/min/max per minute), which carry no
            # percentiles: average and maximum are what CloudWatch can show.
            custom(names.IMAGE_LATENCY, names.WORKER, cw.Stats.AVERAGE, "image avg"),
            custom(names.IMAGE_LATENCY, names.WORKER, cw.Stats.MAXIMUM, "image max"),
            custom(names.BATCH_LATENCY, names.WORKER, cw.Stats.AVERAGE, "batch avg"),
            custom(names.BATCH_LATENCY, names.WORKER, cw.Stats.MAXIMUM, "batch max"),
        ],
    )


def front_door_graphs(door: FrontDoorMetrics) -> list[cw.GraphWidget]:
    """Requests and errors at the load balancer (the web tier's 4xx and 5xx among them), its
    latency, and the web group behind it."""
    lb, targets = door.load_balancer.metrics, door.target_group.metrics
    return [
        graph(
            "Front door (requests/min)",
            [
                lb.request_count(period=PERIOD, statistic=cw.Stats.SUM, label="requests"),
                lb.http_code_target(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, period=PERIOD, label="4xx"),
                lb.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=PERIOD, label="5xx (web)"),
                lb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD, label="5xx (load balancer)"),
            ],
        ),
        graph(
            "Front door latency (s)",
            [
                lb.target_response_time(
                    period=PERIOD, statistic=cw.Stats.percentile(95), label="p95 response time"
                )
            ],
        ),
        graph(
            "Web group",
            [
                group_metric("GroupDesiredCapacity", "desired", door.web_group_name),
                group_metric("GroupInServiceInstances", "in service", door.web_group_name),
                targets.healthy_host_count(period=PERIOD, statistic=cw.Stats.MINIMUM, label="healthy"),
            ],
        ),
    ]


def errors_query(log_group_names: Sequence[str]) -> cw.LogQueryWidget:
    """The services log JSON lines (EVISION_LOG_FORMAT=json): Logs Insights reads the fields."""
    return cw.LogQueryWidget(
        title="Errors (bootstrap, web, workers), newest first",
        log_group_names=list(log_group_names),
        query_lines=ERRORS_QUERY,
        width=24,
    )


class Dashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        request_queue: sqs.IQueue,
        dead_letter_queue: sqs.IQueue,
        worker_group_name: str,
        front_door: FrontDoorMetrics | None = None,
        log_group_names: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        # One row per call: the queue, its dead letters and the worker group; the 10 s depth; the
        # workers' throughput and latency; the front door; the errors in the logs.
        self.dashboard.add_widgets(
            request_queue_graph(request_queue),
            graph("Dead-letter queue", [dead_letters(dead_letter_queue, "dead letters")]),
            worker_group_graph(worker_group_name),
        )
        self.dashboard.add_widgets(fast_queue_graph(request_queue))
        self.dashboard.add_widgets(worker_throughput_graph(), worker_latency_graph())
        if front_door is not None:
            self.dashboard.add_widgets(*front_door_graphs(front_door))
        if log_group_names:
            self.dashboard.add_widgets(errors_query(log_group_names))
        # Dead letters are drained by the web tier within seconds (each gets a failed result): one
        # that stays means the drain is broken and a client is waiting for nothing.
        self.dead_letters_alarm = cw.Alarm(
            self,
            "DeadLettersWaiting",
            alarm_description="dead letters are not being drained into failed results (see the web logs)",
            metric=dead_letters(dead_letter_queue),
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=5,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    @property
    def url(self) -> str:
        return (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )
