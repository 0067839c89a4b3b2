"""Who may do what: each tier's instance role granted exactly the calls its services make, from the
least-privilege building blocks of infra/permissions.py (statements in a fixed order, so the
synthesized policies do not move between deploys)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from infra.config import ServiceConfig
from infra.environment import Names
from infra.permissions import (
    allow_activation,
    allow_get_named_objects,
    allow_get_objects,
    allow_job_keys,
    allow_list_named_bucket,
    allow_own_reply_queues,
    allow_put_named_objects,
    allow_put_objects,
    allow_read_parameter,
    allow_replies,
)
from infra.queues import Queues
from infra.storage import Storage


def grant_workers(
    role: iam.Role, config: ServiceConfig, *, storage: Storage, queues: Queues, names: Names
) -> None:
    """Read inputs, write results, consume requests, reply to the web tier's queue; jobs too."""
    allow_get_objects(role, storage.input_bucket)
    allow_put_objects(role, storage.output_bucket)
    queues.request_queue.grant_consume_messages(role)
    allow_replies(role, names.reply_prefix)
    # Jobs: chunks from the job queue, sources in the input bucket (s3://<input>/<prefix>),
    # the job's record read from the output bucket before a chunk, its shard written there.
    queues.job_queue.grant_consume_messages(role)
    allow_get_objects(role, storage.output_bucket)
    for name in config.job_source_buckets:  # buckets of the owner's: the images of its jobs
        allow_get_named_objects(role, name)
    allow_job_keys(role, config.job_kms_keys, writes=False)


def grant_web(
    role: iam.Role, config: ServiceConfig, *, storage: Storage, queues: Queues, names: Names
) -> None:
    """Uploads, results, requests and replies, dead letters, activation of the workers, jobs; and
    what the standby workers beside it need."""
    standby = config.standby_workers > 0
    # Buckets of the owner's for jobs: the web tier lists sources and writes outputs (and its
    # standby reads the images).
    for name in config.job_source_buckets:
        if standby:
            allow_get_named_objects(role, name)
        else:
            allow_list_named_bucket(role, name)
    for name in config.job_output_buckets:
        allow_put_named_objects(role, name)
    allow_job_keys(role, config.job_kms_keys, writes=True)  # outputs; sources as standby
    # Write inputs, read results (GET /v1/results), send requests, consume its replies; drain dead
    # letters: consume them, store their failed results, reply to the waiting client.
    # PutObject on the input bucket's objects also covers job-uploads/<id>/ (what the web tier
    # presigns for `evision batch ./photos --url ...`: a presigned URL carries its signer's
    # permissions); ListBucket there answers which staged keys are already present.
    allow_put_objects(role, storage.input_bucket)
    allow_get_objects(role, storage.input_bucket)
    allow_get_objects(role, storage.output_bucket)
    allow_put_objects(role, storage.output_bucket)
    queues.request_queue.grant_send_messages(role)
    allow_own_reply_queues(role, names.reply_prefix)
    for parameter in (config.api_keys_parameter, config.webhook_secret_parameter):
        if parameter is not None:
            allow_read_parameter(role, parameter)
    queues.dead_letter_queue.grant_consume_messages(role)
    queues.dead_letter_queue.grant_send_messages(role)  # the drainer's wake-up at shutdown
    allow_activation(role, names.worker_group)  # and the standby's in-service count
    # Jobs: plan chunks onto the job queue (its depth too), write off dead-lettered chunks.
    queues.job_queue.grant_send_messages(role)
    queues.job_dead_letter_queue.grant_consume_messages(role)
    if standby:  # the standby consumes requests (and chunks) as a worker does
        queues.request_queue.grant_consume_messages(role)
        queues.job_queue.grant_consume_messages(role)
