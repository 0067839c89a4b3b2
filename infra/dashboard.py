"""One CloudWatch dashboard: queue (1 min and 10 s), dead letters, worker group (desired, in service,
warm), worker throughput/latency, web errors, and the front door (load balancer and web group)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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

        def group(metric: str, label: str, name: str = worker_group_name) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/AutoScaling",
                metric_name=metric,
                dimensions_map={"AutoScalingGroupName": name},
                statistic=cw.Stats.MAXIMUM,
                period=PERIOD,
                label=label,
            )

        def graph(
            title: str, left: list[cw.IMetric], right: list[cw.IMetric] | None = None
        ) -> cw.GraphWidget:
            return cw.GraphWidget(title=title, left=left, right=right or [], width=WIDTH, height=6)

        maximum = cw.Stats.MAXIMUM
        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            graph(
                "Request queue",
                [
                    request_queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic=maximum, label="visible"
                    ),
                    request_queue.metric_approximate_number_of_messages_not_visible(
                        period=PERIOD, statistic=maximum, label="in flight"
                    ),
                ],
                [
                    request_queue.metric_approximate_age_of_oldest_message(
                        period=PERIOD, statistic=maximum, label="age of oldest (s)"
                    )
                ],
            ),
            graph(
                "Dead-letter queue",
                [
                    dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic=maximum, label="dead letters"
                    )
                ],
            ),
            graph(
                "Worker group",
                [
                    group("GroupDesiredCapacity", "desired"),
                    group("GroupInServiceInstances", "in service"),
                    group("WarmPoolWarmedCapacity", "warm (Stopped)"),
                ],
            ),
        )
        # What the fast alarms read: the web tier's 10 s depth (high resolution, StorageResolution=1).
        fast = Duration.seconds(10)
        self.dashboard.add_widgets(
            graph(
                "Request queue, 10 s (web tier)",
                [
                    cw.Metric(
                        namespace=names.NAMESPACE,
                        metric_name=metric,
                        dimensions_map={names.QUEUE: request_queue.queue_name},
                        statistic=maximum,
                        period=fast,
                        label=label,
                    )
                    for metric, label in (
                        (names.QUEUE_VISIBLE, "visible"),
                        (names.QUEUE_IN_FLIGHT, "in flight"),
                    )
                ],
            )
        )
        self.dashboard.add_widgets(
            graph(
                "Worker throughput (images/min)",
                [custom(names.IMAGES_PROCESSED, names.WORKER, cw.Stats.SUM, "images processed")],
            ),
            graph(
                "Worker latency (ms)",
                [
                    # The worker publishes statistic sets (count/sum/min/max per minute), which
                    # carry no percentiles: average and maximum are what CloudWatch can show.
                    custom(names.IMAGE_LATENCY, names.WORKER, cw.Stats.AVERAGE, "image avg"),
                    custom(names.IMAGE_LATENCY, names.WORKER, cw.Stats.MAXIMUM, "image max"),
                    custom(names.BATCH_LATENCY, names.WORKER, cw.Stats.AVERAGE, "batch avg"),
                    custom(names.BATCH_LATENCY, names.WORKER, cw.Stats.MAXIMUM, "batch max"),
                ],
            ),
        )  # the web tier's 4xx and 5xx: the front door's widgets (the load balancer counts them)

        if front_door is not None:
            self._add_front_door(front_door, group, graph)

        if log_group_names:
            # The services log JSON lines (EVISION_LOG_FORMAT=json): Logs Insights reads the fields.
            self.dashboard.add_widgets(
                cw.LogQueryWidget(
                    title="Errors (bootstrap, web, workers), newest first",
                    log_group_names=list(log_group_names),
                    query_lines=ERRORS_QUERY,
                    width=24,
                )
            )

        # Dead letters are drained by the web tier within seconds (each gets a failed result): one
        # that stays means the drain is broken and a client is waiting for nothing.
        self.dead_letters_alarm = cw.Alarm(
            self,
            "DeadLettersWaiting",
            alarm_description="dead letters are not being drained into failed results (see the web logs)",
            metric=dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic=maximum
            ),
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=5,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )

    def _add_front_door(self, door: FrontDoorMetrics, group: Any, graph: Any) -> None:
        """Requests and errors at the load balancer, its latency, and the web group behind it."""
        lb, targets = door.load_balancer.metrics, door.target_group.metrics
        total, p95 = cw.Stats.SUM, cw.Stats.percentile(95)
        self.dashboard.add_widgets(
            graph(
                "Front door (requests/min)",
                [
                    lb.request_count(period=PERIOD, statistic=total, label="requests"),
                    lb.http_code_target(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, period=PERIOD, label="4xx"),
                    lb.http_code_target(
                        elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=PERIOD, label="5xx (web)"
                    ),
                    lb.http_code_elb(
                        elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD, label="5xx (load balancer)"
                    ),
                ],
            ),
            graph(
                "Front door latency (s)",
                [lb.target_response_time(period=PERIOD, statistic=p95, label="p95 response time")],
            ),
            graph(
                "Web group",
                [
                    group("GroupDesiredCapacity", "desired", door.web_group_name),
                    group("GroupInServiceInstances", "in service", door.web_group_name),
                    targets.healthy_host_count(period=PERIOD, statistic=cw.Stats.MINIMUM, label="healthy"),
                ],
            ),
        )

    @property
    def url(self) -> str:
        return (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )
