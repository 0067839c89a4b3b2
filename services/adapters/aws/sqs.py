"""Message queue on SQS (or anything that speaks its API at `AWS_ENDPOINT_URL`).

Batch APIs throughout (10 entries per call, the SQS limit), long polling via WaitTimeSeconds,
and every `Failed` entry of a batch raises QueueOperationError: nothing is lost silently.
Retries of throttled/transient calls are botocore's job (standard retry mode, see factory).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from services.adapters.errors import QueueOperationError, ResourceNotFoundError
from services.ports.storage import Message, QueueDepth

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_BATCH = 10
MAX_WAIT_SECONDS = 20
MAX_VISIBILITY_SECONDS = 43_200


def _in_batches(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + MAX_BATCH] for i in range(0, len(items), MAX_BATCH)]


def missing_queue(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return "NonExistentQueue" in code or "QueueDoesNotExist" in code


def _raise_failed(action: str, queue: str, response: Any) -> None:
    failed = response.get("Failed") or []
    if failed:
        reasons = "; ".join(f"{f.get('Code')}: {f.get('Message', '')}" for f in failed)
        raise QueueOperationError(f"{action} on {queue}: {len(failed)} entries failed ({reasons})")


class SqsQueue:
    def __init__(self, client: SQSClient, name: str) -> None:
        self._client = client
        self._name = name
        try:
            self._url = client.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as error:
            if missing_queue(error):
                raise ResourceNotFoundError(f"queue {name!r} does not exist") from None
            raise

    @property
    def name(self) -> str:
        return self._name

    @property
    def url(self) -> str:
        return self._url

    def send(self, body: str) -> str:
        with self._gone_is_not_found():
            return self._client.send_message(QueueUrl=self._url, MessageBody=body)["MessageId"]

    def send_batch(self, bodies: Sequence[str]) -> None:
        for batch in _in_batches(bodies):
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
            with self._gone_is_not_found():
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)  # type: ignore[arg-type]
            _raise_failed("send", self._name, response)

    @contextlib.contextmanager
    def _gone_is_not_found(self) -> Iterator[None]:
        """A queue deleted since it was opened (a stopped web process's reply queue)."""
        try:
            yield
        except ClientError as error:
            if missing_queue(error):
                raise ResourceNotFoundError(f"queue {self._name!r} no longer exists") from None
            raise

    def receive(
        self, max_messages: int = 10, wait_seconds: float = 20.0, visibility_timeout: float | None = None
    ) -> list[Message]:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        request: dict[str, Any] = {
            "QueueUrl": self._url,
            "MaxNumberOfMessages": min(max_messages, MAX_BATCH),
            "WaitTimeSeconds": min(math.ceil(max(wait_seconds, 0.0)), MAX_WAIT_SECONDS),
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
        }
        if visibility_timeout is not None:
            request["VisibilityTimeout"] = _whole_seconds(visibility_timeout)
        response = self._client.receive_message(**request)
        return [
            Message(
                message_id=m["MessageId"],
                receipt=m["ReceiptHandle"],
                body=m["Body"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
            )
            for m in response.get("Messages", [])
        ]

    def delete_batch(self, receipts: Sequence[str]) -> None:
        for batch in _in_batches(receipts):
            entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(batch)]
            response = self._client.delete_message_batch(QueueUrl=self._url, Entries=entries)  # type: ignore[arg-type]
            _raise_failed("delete", self._name, response)

    def extend_visibility(self, receipts: Sequence[str], seconds: float) -> None:
        timeout = _whole_seconds(seconds)
        for batch in _in_batches(receipts):
            entries = [
                {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": timeout} for i, r in enumerate(batch)
            ]
            response = self._client.change_message_visibility_batch(QueueUrl=self._url, Entries=entries)  # type: ignore[arg-type]
            _raise_failed("change visibility", self._name, response)

    def release_held_by(self, process_id: int) -> int:
        return 0  # SQS does not say who holds a message; its visibility timeout (a short lease) ends

    def depth(self) -> QueueDepth:
        attributes = self._client.get_queue_attributes(
            QueueUrl=self._url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return QueueDepth(
            visible=int(attributes.get("ApproximateNumberOfMessages", "0")),
            in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
        )


def _whole_seconds(seconds: float) -> int:
    return min(max(math.ceil(seconds), 0), MAX_VISIBILITY_SECONDS)
