"""One `Backend` per process: builds the blob stores and queues for the configured backend.

Adapters are created lazily and cached; boto3 clients are created once per Backend (they are
thread-safe) with botocore's standard retry mode instead of hand-written retries.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import ClientError

from services.adapters.local_blob import LocalBlobStore
from services.adapters.local_queue import LocalQueue, QueueConfig, QueueDatabase
from services.ports import BlobStore, MessageQueue
from services.settings import BackendSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

DEFAULT_REGION = "us-east-1"
MAX_ATTEMPTS = 5
MAX_POOL_CONNECTIONS = 50  # web + worker threads share one client per service


class Backend:
    kind: Literal["local", "aws"]

    def __init__(self, settings: BackendSettings) -> None:
        self.kind = settings.backend
        self._settings = settings
        self._lock = threading.Lock()
        self._blobs: dict[str, BlobStore] = {}
        self._queues: dict[str, MessageQueue] = {}
        self._db: QueueDatabase | None = None
        self._s3: S3Client | None = None
        self._sqs: SQSClient | None = None

    @property
    def settings(self) -> BackendSettings:
        return self._settings

    @property
    def calls_are_brief(self) -> bool:
        """Whether a put or send returns within a millisecond or so, never waiting on a network.

        True for `local` (a file write, a short SQLite transaction): there, calling from the event
        loop costs less than a hop to a worker thread and back. False for `aws` (HTTP round trips).
        """
        return self.kind == "local"

    # -- lazily built shared resources ---------------------------------------------------------
    def _queue_db(self) -> QueueDatabase:
        with self._lock:
            if self._db is None:
                self._db = QueueDatabase(self._settings.data_dir)
            return self._db

    def _clients(self) -> tuple[S3Client, SQSClient]:
        with self._lock:
            if self._s3 is None or self._sqs is None:
                import boto3
                from botocore.config import Config

                session = boto3.session.Session()
                config = Config(
                    region_name=self._settings.aws_region or session.region_name or DEFAULT_REGION,
                    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
                    max_pool_connections=MAX_POOL_CONNECTIONS,
                    # SQS long polls last up to 20 s: the read timeout must be longer.
                    read_timeout=30,
                    connect_timeout=5,
                )
                # The endpoint (AWS_ENDPOINT_URL) and credentials come from boto3's standard chain.
                self._s3 = session.client("s3", config=config)
                self._sqs = session.client("sqs", config=config)
            return self._s3, self._sqs

    # -- the ports -----------------------------------------------------------------------------
    def blobs(self, bucket: str) -> BlobStore:
        store = self._blobs.get(bucket)
        if store is None:
            if self.kind == "local":
                store = LocalBlobStore(self._settings.data_dir, bucket)
            else:
                from services.adapters.s3 import S3BlobStore

                store = S3BlobStore(self._clients()[0], bucket)
            store = self._blobs.setdefault(bucket, store)
        return store

    def queue(self, name: str) -> MessageQueue:
        queue = self._queues.get(name)
        if queue is None:
            if self.kind == "local":
                queue = LocalQueue(self._queue_db(), name)
            else:
                from services.adapters.sqs import SqsQueue

                queue = SqsQueue(self._clients()[1], name)
            queue = self._queues.setdefault(name, queue)
        return queue

    def ensure(self, settings: BackendSettings, reply_queues: Sequence[str] = ()) -> None:
        """Create the buckets and queues if missing (local mode and the emulator; CDK does it in AWS).

        The request queue dead-letters to `dead_letter_queue` after `max_receives` receives.
        """
        buckets = (settings.input_bucket, settings.output_bucket)
        timeout = settings.visibility_timeout
        if self.kind == "local":
            db = self._queue_db()
            for bucket in buckets:
                LocalBlobStore.create(settings.data_dir, bucket)
            db.create_queue(settings.dead_letter_queue, QueueConfig(timeout, settings.max_receives, None))
            db.create_queue(
                settings.request_queue,
                QueueConfig(timeout, settings.max_receives, settings.dead_letter_queue),
            )
            for name in reply_queues:
                db.create_queue(name, QueueConfig(timeout, settings.max_receives, None))
            return
        s3, sqs = self._clients()
        for bucket in buckets:
            _create_bucket(s3, bucket)
        whole_timeout = str(math.ceil(timeout))
        dlq_url = _create_queue(sqs, settings.dead_letter_queue, {"VisibilityTimeout": whole_timeout})
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receives})
        _create_queue(
            sqs, settings.request_queue, {"VisibilityTimeout": whole_timeout, "RedrivePolicy": redrive}
        )
        for name in reply_queues:
            _create_queue(sqs, name, {"VisibilityTimeout": whole_timeout})

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            for client in (self._s3, self._sqs):
                if client is not None:
                    client.close()
            self._s3 = self._sqs = None
            self._blobs.clear()
            self._queues.clear()


def make_backend(settings: BackendSettings) -> Backend:
    return Backend(settings)


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
