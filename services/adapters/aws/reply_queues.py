"""Per-process reply queues on SQS: liveness is a queue tag, renewed by its web process.

SQS has no expiry for an idle queue (only for messages), so each queue carries the tag
`evision:alive-at` (epoch seconds), set at creation (CreateQueue takes tags, so a queue is never
seen untagged) and renewed by its owner; any web process lists the queues by name prefix and
deletes those whose mark is stale. ListQueues pages hold up to 1 000 URLs
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListQueues.html).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from services.adapters.aws.sqs import missing_queue as _missing
from services.ports.storage import MessageQueue

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

ALIVE_TAG = "evision:alive-at"
# Replies are notifications for a waiting request (at most the web wait): older ones are useless.
MESSAGE_RETENTION_SECONDS = 600


class SqsReplyQueues:
    def __init__(
        self,
        client: SQSClient,
        visibility_timeout: float,
        open_queue: Callable[[str], MessageQueue],
        forget_queue: Callable[[str], None],
    ) -> None:
        self._client = client
        self._visibility = str(math.ceil(visibility_timeout))
        self._open_queue = open_queue
        self._forget_queue = forget_queue

    def create(self, name: str) -> MessageQueue:
        self._client.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": self._visibility,
                "MessageRetentionPeriod": str(MESSAGE_RETENTION_SECONDS),
                "SqsManagedSseEnabled": "true",  # as the stack's own queues
            },
            tags={ALIVE_TAG: _now()},
        )
        return self._open_queue(name)

    def mark_alive(self, name: str) -> None:
        self._client.tag_queue(QueueUrl=self._url(name), Tags={ALIVE_TAG: _now()})

    def idle(self, prefix: str, since: float) -> list[str]:
        found: list[str] = []
        pages = self._client.get_paginator("list_queues").paginate(
            QueueNamePrefix=f"{prefix}-", PaginationConfig={"PageSize": 1000}
        )
        for page in pages:
            for url in page.get("QueueUrls", []):
                try:
                    tags = self._client.list_queue_tags(QueueUrl=url).get("Tags", {})
                except ClientError as error:
                    if _missing(error):
                        continue  # deleted since the listing
                    raise
                mark = tags.get(ALIVE_TAG)
                if mark is not None and mark.isdigit() and int(mark) < since:
                    found.append(url.rsplit("/", 1)[-1])
        return found

    def delete(self, name: str) -> None:
        self._forget_queue(name)
        try:
            self._client.delete_queue(QueueUrl=self._url(name))
        except ClientError as error:
            if not _missing(error):
                raise

    def _url(self, name: str) -> str:
        return self._client.get_queue_url(QueueName=name)["QueueUrl"]


def _now() -> str:
    # Whole seconds, rounded up: a mark never looks older than it is (a live queue is never swept early).
    return str(math.ceil(time.time()))
