"""The request queue and the batch jobs' chunk queue, each with its dead-letter queue.

(Each web process creates its own reply queue at run time: `services/web/replies/queue_keeper.py`;
IAM limits it to a prefix, `infra/permissions.py`.)"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

LONG_POLL = Duration.seconds(20)  # the SQS maximum: an idle consumer makes 3 calls a minute


class Queues(Construct):
    """SSE-encrypted, TLS-only queues with 20 s long polling by default.

    Queues hold only notifications (images and results live in the buckets), so they are
    deleted with the stack: a lost request message is seen as a pending result, not lost data.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, max_receives: int, visibility_timeout: Duration
    ) -> None:
        super().__init__(scope, construct_id)

        def queue(
            queue_id: str,
            *,
            retention: Duration,
            visibility: Duration | None = None,
            dead_letter: sqs.DeadLetterQueue | None = None,
        ) -> sqs.Queue:
            return sqs.Queue(
                self,
                queue_id,
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                receive_message_wait_time=LONG_POLL,
                retention_period=retention,
                visibility_timeout=visibility,
                dead_letter_queue=dead_letter,
            )

        self.dead_letter_queue = queue("DeadLetter", retention=Duration.days(14))
        self.request_queue = queue(
            "Requests",
            retention=Duration.days(4),
            visibility=visibility_timeout,
            dead_letter=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=max_receives),
        )
        # Batch jobs' chunks (services/jobs/): drained by the workers after the requests; a chunk
        # that fails every receive is written off by the web tier from its dead-letter queue.
        self.job_dead_letter_queue = queue("JobDeadLetter", retention=Duration.days(14))
        self.job_queue = queue(
            "Jobs",
            retention=Duration.days(14),
            visibility=visibility_timeout,
            dead_letter=sqs.DeadLetterQueue(queue=self.job_dead_letter_queue, max_receive_count=max_receives),
        )
