"""The `aws` backend: S3 buckets and SQS queues through boto3 (Auto Scaling for protection).

Used in the cloud, and locally against anything that speaks the APIs at `AWS_ENDPOINT_URL`
(the moto emulator). boto3 clients are created once per backend (they are thread-safe) with
botocore's standard retry mode instead of hand-written retries. In the cloud the stack owns the
buckets and queues; against an endpoint (an emulator) this process creates them.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from services.adapters.aws.s3 import S3BlobStore
from services.adapters.aws.sqs import SqsQueue
from services.adapters.base import CachingBackend
from services.ports.capacity import (
    ActivationRequests,
    CapacityActivator,
    Placement,
    ScaleInProtection,
    WorkerGroupGauge,
)
from services.ports.deployment import PreflightProbe
from services.ports.job_locations import JobOutput, JobSource
from services.ports.models import ModelRegistry
from services.ports.storage import BlobStore, MessageQueue, ReplyQueues
from services.ports.telemetry import DepthReporter, MetricsSink, Silent
from services.settings import BackendSettings

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

DEFAULT_REGION = "us-east-1"
MAX_ATTEMPTS = 5
MAX_POOL_CONNECTIONS = 50  # web + worker threads share one client per service


class AwsBackend(CachingBackend):
    name = "aws"
    calls_are_brief = False  # HTTP round trips: keep them off the event loop
    capacity_manager = "auto scaling group"

    def __init__(self, settings: BackendSettings) -> None:
        super().__init__(settings)
        self._lock = threading.Lock()
        self._s3: S3Client | None = None
        self._sqs: SQSClient | None = None

    @property
    def provisions_itself(self) -> bool:
        # An endpoint other than AWS's own (an emulator, a compatible store) has nothing deployed.
        return bool(os.environ.get("AWS_ENDPOINT_URL"))

    def _config(self) -> Config:
        import boto3
        from botocore.config import Config

        # The standard chain (AWS_REGION, AWS_DEFAULT_REGION, the profile): the cloud's user data
        # sets the stack's region; the service itself names none.
        region = boto3.session.Session().region_name or DEFAULT_REGION
        return Config(
            region_name=region,
            retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
            max_pool_connections=MAX_POOL_CONNECTIONS,
            # SQS long polls last up to 20 s: the read timeout must be longer.
            read_timeout=30,
            connect_timeout=5,
            # CPU per call is most of the web tier's cost per upload: the requests are built by
            # this code (client-side validation repeats what the service checks anyway), and
            # checksums only where an API requires one (TLS guards the bytes in transit); each
            # cut ~5 % of a put or send here (tests: evision bench, aws backend).
            parameter_validation=False,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )

    def _clients(self) -> tuple[S3Client, SQSClient]:
        with self._lock:
            if self._s3 is None or self._sqs is None:
                import boto3
                from botocore.config import Config

                session = boto3.session.Session()
                # The endpoint (AWS_ENDPOINT_URL) and credentials come from boto3's standard chain.
                # SigV4 named explicitly: botocore presigns with the legacy SigV2 otherwise, which
                # signs no headers (a presigned PUT's Content-Length bound would not hold).
                s3_config = self._config().merge(Config(signature_version="s3v4"))
                self._s3 = session.client("s3", config=s3_config)
                self._sqs = session.client("sqs", config=self._config())
            return self._s3, self._sqs

    def _client(
        self, service: Literal["cloudwatch", "autoscaling", "ssm", "sts", "ec2", "service-quotas", "acm"]
    ) -> Any:
        import boto3

        return boto3.session.Session().client(service, config=self._config())

    def _open_blobs(self, bucket: str) -> BlobStore:
        return S3BlobStore(self._clients()[0], bucket)

    def _open_queue(self, name: str) -> MessageQueue:
        return SqsQueue(self._clients()[1], name)

    def provision(self, settings: BackendSettings, reply_queues: Sequence[str] = ()) -> None:
        s3, sqs = self._clients()
        for bucket in (settings.input_bucket, settings.output_bucket):
            _create_bucket(s3, bucket)
        timeout = str(math.ceil(settings.visibility_timeout))
        for queue, dead_letters in (
            (settings.request_queue, settings.dead_letter_queue),
            (settings.job_queue, settings.job_dead_letter_queue),
        ):
            dlq_url = _create_queue(sqs, dead_letters, {"VisibilityTimeout": timeout})
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receives})
            _create_queue(sqs, queue, {"VisibilityTimeout": timeout, "RedrivePolicy": redrive})
        for name in reply_queues:
            _create_queue(sqs, name, {"VisibilityTimeout": timeout})

    def reply_queues(self) -> ReplyQueues:
        from services.adapters.aws.reply_queues import SqsReplyQueues

        return SqsReplyQueues(
            self._clients()[1], self._settings.visibility_timeout, self.queue, self._forget_queue
        )

    def unavailable_reason(self) -> str | None:
        return None  # what is reachable is only known by asking: the depth read reports it

    def delete_expired(self, now: float) -> int:
        return 0  # the buckets' lifecycle rules expire objects (infra/storage.py)

    def scale_in_protection(self, placement: Placement) -> ScaleInProtection:
        from services.adapters.aws.protection import make_protection

        return make_protection(placement, client=lambda: self._client("autoscaling"))

    def await_serving(self, placement: Placement, stop: threading.Event) -> bool:
        from services.adapters.aws.lifecycle import await_in_service

        return await_in_service(placement, stop, client=lambda: self._client("autoscaling"))

    def metrics_sink(self) -> MetricsSink:
        from services.adapters.aws.metrics import CloudWatchMetricsSink

        return CloudWatchMetricsSink(self._client("cloudwatch"))

    def depth_reporter(self) -> DepthReporter:
        from services.adapters.aws.capacity import CloudWatchDepthReporter

        return CloudWatchDepthReporter(self._client("cloudwatch"))

    def capacity_activator(self, group: str | None, scale_to: int) -> CapacityActivator:
        if not group:
            return Silent()  # not told which group (e.g. against an emulator without one)
        from services.adapters.aws.capacity import AsgActivator

        return AsgActivator(self._client("autoscaling"), group=group, scale_to=scale_to)

    def activation_requests(self) -> ActivationRequests | None:
        return None  # the web tier's activator raises the Auto Scaling group itself

    def worker_group_gauge(self, group: str | None) -> WorkerGroupGauge:
        if not group:
            raise ValueError("the aws backend counts workers in service per Auto Scaling group: name it")
        from services.adapters.aws.capacity import AsgInServiceGauge

        return AsgInServiceGauge(self._client("autoscaling"), group=group)

    def model_registry(self) -> ModelRegistry:
        from services.adapters.aws.model_registry import S3ModelRegistry

        return S3ModelRegistry(self._clients()[0], self._settings.output_bucket)

    def job_source(self, location: str) -> JobSource:
        from services.adapters.aws.prefix_source import PrefixSource

        return PrefixSource(self._clients()[0], location)

    def job_output(self, location: str) -> JobOutput:
        from services.adapters.aws.prefix_source import PrefixOutput

        return PrefixOutput(self._clients()[0], location)

    def preflight_probe(self) -> PreflightProbe:
        from services.adapters.aws.preflight import AwsPreflightProbe

        return AwsPreflightProbe(self._client)

    def read_secret(self, name: str) -> str:
        # GetParameter with decryption. The AWS managed key aws/ssm grants Decrypt to every IAM
        # principal of the account, so ssm:GetParameter on the parameter is all the role needs
        # (Systems Manager user guide, "Restricting decryption of SecureString parameter values").
        ssm = self._client("ssm")
        try:
            value: str = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except ClientError as error:
            detail = error.response.get("Error", {})
            code = detail.get("Code", "")
            if code in ("ParameterNotFound", "ParameterVersionNotFound"):
                region = ssm.meta.region_name
                raise LookupError(f"no SSM parameter {name!r} in {region}") from None
            # AccessDeniedException (IAM), or a customer-managed KMS key the role may not use
            # (KMS's AccessDeniedException / KMS.* codes), or a malformed name (ValidationException).
            message = detail.get("Message", "")
            raise PermissionError(f"SSM parameter {name!r} unreadable: {code}: {message}") from None
        finally:
            ssm.close()
        return value

    def close(self) -> None:
        with self._lock:
            for client in (self._s3, self._sqs):
                if client is not None:
                    client.close()
            self._s3 = self._sqs = None
            self._forget_adapters()


def _create_bucket(s3: S3Client, bucket: str) -> None:
    region = s3.meta.region_name
    try:
        if region == DEFAULT_REGION:  # us-east-1 rejects an explicit LocationConstraint
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
            )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
            raise


def _create_queue(sqs: SQSClient, name: str, attributes: dict[str, str]) -> str:
    """Create the queue, or bring an existing one's attributes up to date; return its URL."""
    try:
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
    except ClientError as error:
        if "QueueAlreadyExists" not in error.response.get("Error", {}).get("Code", ""):
            raise
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)  # type: ignore[arg-type]
    return url
