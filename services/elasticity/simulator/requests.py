"""The AWS requests the service makes: per upload (counted against moto), and while it idles.

`UPLOAD_REQUESTS` is what one upload costs in S3/SQS requests when it is alone (c=1: nothing is
batched with it); tests/bill/test_request_counts.py counts them on a moto server under the real
web process and worker, and fails when the code makes other calls. Under load the worker's
receives, replies and deletes carry up to 10 messages each, so these are an upper bound.

`TIME_BASED` are the calls made by the clock, not by uploads (long polls, the depth metric, the
orphan sweep, the reply-queue keeper): the bill prices them per hour from the settings' periods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.elasticity.simulator.deployment import Deployment

# (service, action) -> requests per lone upload (measured; see the module docstring).
# The web process: PutObject (input), SendMessageBatch (request), ReceiveMessage + DeleteMessageBatch
# (its reply). The worker: ReceiveMessage, GetObject (input), PutObject (result), SendMessageBatch
# (reply), DeleteMessageBatch (request). At c=16 the SQS calls fell to ~1.7 per upload (2026-12-03).
UPLOAD_REQUESTS: Mapping[tuple[str, str], int] = {
    ("s3", "GetObject"): 1,
    ("s3", "PutObject"): 2,
    ("sqs", "DeleteMessageBatch"): 2,
    ("sqs", "ReceiveMessage"): 2,
    ("sqs", "SendMessageBatch"): 2,
}

# (service, action) -> requests per image through a batch job, at the default chunk of 50 keys
# (BackendSettings.job_chunk_size): the source GET, and per chunk one receive, one read of the
# job's record, one shard PUT and one delete; the planner sends 10 chunks per call and lists
# 1 000 keys per call. tests/bill/test_request_counts.py measures a job against these on moto.
JOB_CHUNK = 50
JOB_REQUESTS: Mapping[tuple[str, str], float] = {
    ("s3", "GetObject"): 1 + 1 / JOB_CHUNK,
    ("s3", "PutObject"): 1 / JOB_CHUNK,
    ("s3", "ListObjectsV2"): 1 / 1000,
    ("sqs", "ReceiveMessage"): 1 / JOB_CHUNK,
    ("sqs", "DeleteMessageBatch"): 1 / JOB_CHUNK,
    ("sqs", "SendMessageBatch"): 1 / (10 * JOB_CHUNK),
}

TIME_BASED: frozenset[tuple[str, str]] = frozenset(
    {
        ("sqs", "ReceiveMessage:empty"),
        ("sqs", "GetQueueAttributes"),
        ("sqs", "ListQueues"),
        ("sqs", "TagQueue"),
        ("sqs", "ListQueueTags"),
        ("sqs", "GetQueueUrl"),
        ("s3", "ListObjectsV2"),
        ("monitoring", "PutMetricData"),
        ("autoscaling", "DescribeAutoScalingGroups"),
    }
)


@dataclass(frozen=True, slots=True)
class Clocks:
    """The periods of the web tier's background calls, as deployed: WebSettings' defaults, and the
    depth metric at the policy's period (infra/stack.py); tests/bill checks they agree."""

    reply_poll_seconds: float = 5.0
    orphan_sweep_seconds: float = 60.0
    reply_heartbeat_seconds: float = 60.0
    depth_metric_seconds: float = 10.0
    standby_poll_seconds: float = 10.0  # WorkerSettings.standby_poll_seconds
    job_monitor_seconds: float = 5.0  # WebSettings.job_monitor_seconds: the job queue's depth
    job_idle_scan_seconds: float = 300.0  # services/jobs/monitor.py: the job records listed


def idle_requests_per_second(
    deployment: Deployment, clocks: Clocks = Clocks()
) -> dict[tuple[str, str], float]:
    """The requests an idle deployment makes per second, by (service, action); the idle-tally
    test measures the same calls on moto with short clocks.

    Each web process long-polls its reply queue and the dead-letter queue (an empty long poll
    waits out its time), sweeps for orphans (the two queues' depth, then the inputs and results
    listed since the checkpoint) and marks its reply queue alive (its URL and a tag, then a look
    for orphaned reply queues: every process's queue is listed and its tags read). One process per instance
    publishes the depth metric (of both queues: requests and job chunks). Each process looks at
    the job queue's depth for unfinished jobs and lists the job records now and then. Each
    standby worker long-polls the request queue while the worker group is at zero, which an
    idle deployment always is (an upper bound under load).
    """
    processes = deployment.web_instances * deployment.web_processes
    per_process = {
        ("sqs", "ReceiveMessage:empty"): 2 / clocks.reply_poll_seconds,
        ("sqs", "GetQueueAttributes"): 2 / clocks.orphan_sweep_seconds + 1 / clocks.job_monitor_seconds,
        ("s3", "ListObjectsV2"): 2 / clocks.orphan_sweep_seconds + 1 / clocks.job_idle_scan_seconds,
        ("sqs", "TagQueue"): 1 / clocks.reply_heartbeat_seconds,
        ("sqs", "ListQueues"): 1 / clocks.reply_heartbeat_seconds,
        ("sqs", "ListQueueTags"): processes / clocks.reply_heartbeat_seconds,
        ("sqs", "GetQueueUrl"): 1 / clocks.reply_heartbeat_seconds,
    }
    rates = {kind: rate * processes for kind, rate in per_process.items()}
    publishing = {  # the backlog: the request queue's depth and the job queue's
        ("sqs", "GetQueueAttributes"): 2 / clocks.depth_metric_seconds,
        ("monitoring", "PutMetricData"): 1 / clocks.depth_metric_seconds,
    }
    for kind, rate in publishing.items():
        rates[kind] = rates.get(kind, 0.0) + rate * deployment.web_instances
    standbys = deployment.web_instances * deployment.standby_workers
    empty = ("sqs", "ReceiveMessage:empty")
    # Each idle standby poll: the request queue's long poll, then a look at the job queue.
    rates[empty] = rates.get(empty, 0.0) + 2 * standbys / clocks.standby_poll_seconds
    return rates
