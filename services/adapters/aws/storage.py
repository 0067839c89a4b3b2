"""The aws backend's storage role: S3 buckets and SQS queues. In the cloud the stack owns them;
against an endpoint (an emulator) this process creates them."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from services.adapters.aws.clients import DEFAULT_REGION, AwsClients
from services.adapters.aws.s3 import S3BlobStore
from services.adapters.aws.sqs import SqsQueue
from services.adapters.base import CachingStorage
from services.ports.storage import BlobStore, MessageQueue, ReplyQueues
from services.settings import BackendSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


class AwsStorage(CachingStorage):
    calls_are_brief = False  # HTTP round trips: keep them off the event loop

    def __init__(self, settings: BackendSettings, clients: AwsClients) -> None:
        super().__init__(settings)
        self._clients = clients

    @property
    def provisions_itself(self) -> bool:
        # An endpoint other than AWS's own (an emulator, a compatible store) has nothing deployed.
        return bool(os.environ.get("AWS_ENDPOINT_URL"))

    def _open_blobs(self, bucket: str) -> BlobStore:
        return S3BlobStore(self._clients.s3(), bucket)

    def _open_queue(self, name: str) -> MessageQueue:
        return SqsQueue(self._clients.sqs(), name)

    def provision(self, settings: BackendSettings, reply_queues: Sequence[str] = ()) -> None:
        s3, sqs = self._clients.s3(), self._clients.sqs()
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
            self._clients.sqs(), self._settings.visibility_timeout, self.queue, self._forget_queue
        )

    def unavailable_reason(self) -> str | None:
        return None  # what is reachable is only known by asking: the depth read reports it

    def delete_expired(self, now: float) -> int:
        return 0  # the buckets' lifecycle rules expire objects (infra/storage.py)

    def close(self) -> None:
        self._forget_adapters()
        self._clients.close()


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
