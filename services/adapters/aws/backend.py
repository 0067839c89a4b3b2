"""The `aws` backend: S3 buckets and SQS queues through boto3 (CloudWatch, Auto Scaling and SSM
behind their roles).

Used in the cloud, and locally against anything that speaks the APIs at `AWS_ENDPOINT_URL`
(the moto emulator).
"""

from __future__ import annotations

from services.adapters.aws.clients import AwsClients
from services.adapters.aws.deployment import AwsDeployment
from services.adapters.aws.group import AsgCapacity
from services.adapters.aws.job_locations import PrefixLocations
from services.adapters.aws.model_registry import S3ModelRegistry
from services.adapters.aws.storage import AwsStorage
from services.adapters.base import RoleBackend
from services.ports.backend import Backend
from services.ports.telemetry import DepthReporter, MetricsSink
from services.settings import BackendSettings


class CloudWatchTelemetry:
    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    def metrics_sink(self) -> MetricsSink:
        from services.adapters.aws.metrics import CloudWatchMetricsSink

        return CloudWatchMetricsSink(self._clients.client("cloudwatch"))

    def depth_reporter(self) -> DepthReporter:
        from services.adapters.aws.capacity import CloudWatchDepthReporter

        return CloudWatchDepthReporter(self._clients.client("cloudwatch"))


def open_aws(settings: BackendSettings) -> Backend:
    clients = AwsClients()
    storage = AwsStorage(settings, clients)
    return RoleBackend(
        name="aws",
        settings=settings,
        storage=storage,
        capacity=AsgCapacity(settings, clients),
        telemetry=CloudWatchTelemetry(clients),
        job_locations=PrefixLocations(clients),
        deployment=AwsDeployment(clients),
        models=S3ModelRegistry(clients.s3, settings.output_bucket),
        on_close=storage.close,
    )
