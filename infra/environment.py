"""What each process on the instances is told: the services' settings, rendered by their own
classes to `EVISION_*` variables (the one environment contract), with the stack's bucket and queue
names (tokens, resolved by CloudFormation), JSON logs and the region."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws

from infra.config import ServiceConfig
from infra.queues import Queues
from infra.storage import Storage
from services.log_config import LoggingSettings
from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings


@dataclass(frozen=True, kw_only=True)
class Names:
    """The names the stack fixes for what the services make or find at run time."""

    worker_group: str
    web_group: str
    reply_prefix: str  # each web process's own reply queue is <prefix>-<12 hex>

    @classmethod
    def of(cls, stack_name: str) -> Names:
        return cls(
            worker_group=f"{stack_name}-workers",
            web_group=f"{stack_name}-web",
            reply_prefix=f"{stack_name}-replies",
        )


@dataclass(frozen=True, kw_only=True)
class Environments:
    """The environment of each kind of process: a worker, a web process, a standby worker."""

    worker: dict[str, str]
    web: dict[str, str]
    standby: dict[str, str]


def render_environments(
    config: ServiceConfig, *, storage: Storage, queues: Queues, names: Names
) -> Environments:
    shared = _shared_settings(config, storage, queues)
    worker = WorkerSettings.from_values(
        **shared,
        batch_size=config.batch_size,
        threads=config.worker_threads,
        metrics=True,
        engine=config.engine,
    )
    web = WebSettings.from_values(
        **shared,
        **_front_door_settings(config),
        reply_queue_prefix=names.reply_prefix,
        web_processes=config.web_processes,
        wait_seconds=config.web_wait_seconds,
        # The fast path: depth for the 10 s alarms, activation of the workers from zero.
        depth_metric_seconds=config.scaling.period_seconds,
        worker_group=names.worker_group,
        scale_from_zero_to=config.scaling.scale_from_zero_to,
    )
    # Standby workers on the web instances bridge the worker group while it has no worker in
    # service; the web bundle carries ONNX Runtime and the model (never OpenVINO).
    standby = WorkerSettings.from_values(
        **shared,
        batch_size=config.batch_size,
        threads=1,
        engine="onnxruntime",
        standby_group=names.worker_group,
    )
    logging_env = LoggingSettings.from_values(log_format="json").environment(explicit_only=True)
    region_env = {"AWS_REGION": Aws.REGION, "AWS_DEFAULT_REGION": Aws.REGION}
    return Environments(
        worker={**worker.environment(explicit_only=True), **logging_env, **region_env},
        web={**web.environment(explicit_only=True), **logging_env, **region_env},
        standby={**standby.environment(explicit_only=True), **logging_env, **region_env},
    )


def _shared_settings(config: ServiceConfig, storage: Storage, queues: Queues) -> dict[str, object]:
    """What the web tier and the workers both need: the backend, its buckets and queues."""
    return {
        "backend": "aws",
        "input_bucket": storage.input_bucket.bucket_name,
        "output_bucket": storage.output_bucket.bucket_name,
        "request_queue": queues.request_queue.queue_name,
        "dead_letter_queue": queues.dead_letter_queue.queue_name,
        "job_queue": queues.job_queue.queue_name,
        "job_dead_letter_queue": queues.job_dead_letter_queue.queue_name,
        "max_receives": config.max_receives,
        "visibility_timeout": config.visibility_timeout_seconds,
    }


def _front_door_settings(config: ServiceConfig) -> dict[str, object]:
    """The web tier's settings for what faces clients: only the options the deployment gives."""
    front_door: dict[str, object] = {"trust_forwarded_for": True}  # behind the load balancer
    if config.api_keys_parameter is not None:
        front_door["api_keys_parameter"] = config.api_keys_parameter
    if config.webhook_secret_parameter is not None:
        front_door["webhook_secret_parameter"] = config.webhook_secret_parameter
    if config.rate_limit_per_second > 0:
        front_door["rate_limit_per_second"] = config.rate_limit_per_second
    return front_door
