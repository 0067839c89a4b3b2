"""The whole service in one stack: the constructs of infra/, wired together and granted access."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.alarm_topic import AlarmTopic
from infra.architecture import Architecture, bundle_name
from infra.assets import ServiceBundle
from infra.config import ServiceConfig
from infra.dashboard import Dashboard, FrontDoorMetrics
from infra.hosts import HostProps
from infra.images import machine_image
from infra.load_balancer import LoadBalancer
from infra.logs import LogGroups
from infra.network import Network
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
from infra.reply_queue_cleanup import ReplyQueueCleanup
from infra.storage import Storage
from infra.user_data import LogShipping, Standby
from infra.waf import RateLimitAcl
from infra.web import HTTP_PORT, WebTier
from infra.wheelhouse import LOCK, OPENVINO_LOCK
from infra.workers import Workers
from services.elasticity.web_capacity import WebCapacity
from services.log_config import LoggingSettings
from services.web.settings import WebSettings
from services.worker.settings import WorkerSettings

BASE_LOCK = LOCK.name  # what the web tier, and workers on ONNX Runtime, install
# The x86_64 bundles' construct ids from before Graviton (kept: a rename would replace assets).
BUNDLE_IDS: dict[tuple[str, Architecture], str] = {
    (BASE_LOCK, "x86_64"): "Bundle",
    (OPENVINO_LOCK.name, "x86_64"): "WorkerBundle",
}


def show_warnings(stack: Stack, config: ServiceConfig) -> None:
    """The configuration's warnings as annotations of `stack`: `cdk synth` and `cdk deploy` print them."""
    for warning in config.warnings:
        Annotations.of(stack).add_warning_v2("evision:config", warning)


class ServiceStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: ServiceConfig, source_dir: Path, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        show_warnings(self, config)
        network = Network(
            self,
            "Network",
            flow_log_retention=logs.RetentionDays.ONE_YEAR
            if config.retain_data
            else logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        storage = Storage(
            self, "Storage", retain=config.retain_data, input_expiry_days=config.input_expiry_days
        )
        queues = Queues(
            self,
            "Queues",
            max_receives=config.max_receives,
            visibility_timeout=Duration.seconds(config.visibility_timeout_seconds),
        )
        # One bundle per lock and architecture (infra/wheelhouse.py stages them): web instances
        # never get OpenVINO, a Graviton tier gets aarch64 wheels.
        bundles = source_dir / "build" / "bundles"
        staged: dict[tuple[str, Architecture], ServiceBundle] = {}

        def bundle(lock: str, architecture: Architecture) -> ServiceBundle:
            if (lock, architecture) not in staged:
                staged[(lock, architecture)] = ServiceBundle(
                    self,
                    BUNDLE_IDS.get((lock, architecture), f"Bundle{architecture.title().replace('_', '')}"),
                    source_dir=bundles / bundle_name(lock, architecture),
                    lock=lock,
                )
            return staged[(lock, architecture)]

        worker_host = HostProps(
            vpc=network.vpc,
            subnets=network.public_subnets,
            bundle=bundle(config.worker_lock, config.worker_architecture),
            machine_image=machine_image(config.model_ami_id, config.worker_architecture, config.ami_ids),
            instance_type=config.worker_instance_type,
            volume_gib=config.volume_gib,
        )
        web_host = replace(
            worker_host,
            bundle=bundle(BASE_LOCK, config.web_architecture),
            machine_image=machine_image(None, config.web_architecture, config.ami_ids),
            instance_type=config.web_instance_type,
        )

        # The services' settings, rendered by their own classes (the one environment contract).
        shared: dict[str, object] = {
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
        region_env = {"AWS_REGION": Aws.REGION, "AWS_DEFAULT_REGION": Aws.REGION}
        worker_settings = WorkerSettings.from_values(
            **shared,
            batch_size=config.batch_size,
            threads=config.worker_threads,
            metrics=True,
            engine=config.engine,
        )
        group_name = f"{self.stack_name}-workers"
        reply_prefix = f"{self.stack_name}-replies"
        front_door: dict[str, object] = {"trust_forwarded_for": True}  # behind the load balancer
        if config.api_keys_parameter is not None:
            front_door["api_keys_parameter"] = config.api_keys_parameter
        if config.webhook_secret_parameter is not None:
            front_door["webhook_secret_parameter"] = config.webhook_secret_parameter
        if config.rate_limit_per_second > 0:
            front_door["rate_limit_per_second"] = config.rate_limit_per_second
        web_settings = WebSettings.from_values(
            **shared,
            **front_door,
            reply_queue_prefix=reply_prefix,
            web_processes=config.web_processes,
            wait_seconds=config.web_wait_seconds,
            # The fast path: depth for the 10 s alarms, activation of the workers from zero.
            depth_metric_seconds=config.scaling.period_seconds,
            worker_group=group_name,
            scale_from_zero_to=config.scaling.scale_from_zero_to,
        )
        # Standby workers on the web instances bridge the worker group while it has no worker in
        # service; the web bundle carries ONNX Runtime and the model (never OpenVINO).
        standby_settings = WorkerSettings.from_values(
            **shared,
            batch_size=config.batch_size,
            threads=1,
            engine="onnxruntime",
            standby_group=group_name,
        )
        log_groups = LogGroups(
            self, "Logs", retention_days=config.log_retention_days, retain=config.retain_data
        )
        logging_env = LoggingSettings.from_values(log_format="json").environment(explicit_only=True)
        workers = Workers(
            self,
            "Workers",
            host=worker_host,
            policy=config.scaling,
            request_queue=queues.request_queue,
            service_env={**worker_settings.environment(explicit_only=True), **logging_env, **region_env},
            drain_seconds=config.drain_timeout_seconds,
            group_name=group_name,
            warm_pool_size=config.warm_pool_size,
            lock=config.worker_lock,
            logs=LogShipping(service=log_groups.name("worker"), bootstrap=log_groups.name("bootstrap")),
        )
        web = WebTier(
            self,
            "Web",
            host=web_host,
            service_env={**web_settings.environment(explicit_only=True), **logging_env, **region_env},
            min_capacity=config.web_min_capacity,
            max_capacity=config.web_max_capacity,
            drain_seconds=config.web_wait_seconds + 15,
            group_name=f"{self.stack_name}-web",
            ssh_cidr=config.ssh_cidr,
            logs=LogShipping(service=log_groups.name("web"), bootstrap=log_groups.name("bootstrap")),
            standby=Standby(
                workers=config.standby_workers,
                service_env={**standby_settings.environment(explicit_only=True), **logging_env, **region_env},
                memory_max_mib=config.standby_memory_mib,
            ),
        )
        log_groups.grant_shipping(workers.role, "worker", "bootstrap")
        log_groups.grant_shipping(web.role, "web", "bootstrap")
        load_balancer = LoadBalancer(
            self,
            "FrontDoor",
            vpc=network.vpc,
            targets=web.auto_scaling_group,
            target_port=HTTP_PORT,
            wait_seconds=config.web_wait_seconds,
            certificate_arn=config.certificate_arn,
        )
        web.behind(load_balancer.target_group)
        # Deleted after the web group (which depends on it): no run-time reply queue outlives the stack.
        cleanup = ReplyQueueCleanup(self, "ReplyQueueCleanup", prefix=reply_prefix)
        web.auto_scaling_group.node.add_dependency(cleanup)
        web.scale_on_requests(WebCapacity().target_requests_per_minute)
        if config.waf_rate_limit is not None:
            RateLimitAcl(
                self,
                "Waf",
                resource_arn=load_balancer.load_balancer.load_balancer_arn,
                limit=config.waf_rate_limit,
            )

        # Worker: read inputs, write results, consume requests, reply to the web tier's queue.
        allow_get_objects(workers.role, storage.input_bucket)
        allow_put_objects(workers.role, storage.output_bucket)
        queues.request_queue.grant_consume_messages(workers.role)
        allow_replies(workers.role, reply_prefix)
        # Jobs: chunks from the job queue, sources in the input bucket (s3://<input>/<prefix>),
        # the job's record read from the output bucket before a chunk, its shard written there.
        queues.job_queue.grant_consume_messages(workers.role)
        allow_get_objects(workers.role, storage.output_bucket)
        # Buckets of the owner's for jobs: the web tier lists sources and writes outputs, the
        # workers (and the standby on the web tier) read the images.
        for name in config.job_source_buckets:
            allow_get_named_objects(workers.role, name)
            if config.standby_workers > 0:
                allow_get_named_objects(web.role, name)
            else:
                allow_list_named_bucket(web.role, name)
        for name in config.job_output_buckets:
            allow_put_named_objects(web.role, name)
        allow_job_keys(workers.role, config.job_kms_keys, writes=False)
        allow_job_keys(web.role, config.job_kms_keys, writes=True)  # outputs; sources as standby
        # Web: write inputs, read results (GET /v1/results), send requests, consume its replies;
        # drain dead letters: consume them, store their failed results, reply to the waiting client.
        # PutObject on the input bucket's objects also covers job-uploads/<id>/ (what the web tier
        # presigns for `evision batch ./photos --url ...`: a presigned URL carries its signer's
        # permissions); ListBucket there answers which staged keys are already present.
        allow_put_objects(web.role, storage.input_bucket)
        allow_get_objects(web.role, storage.input_bucket)
        allow_get_objects(web.role, storage.output_bucket)
        allow_put_objects(web.role, storage.output_bucket)
        queues.request_queue.grant_send_messages(web.role)
        allow_own_reply_queues(web.role, reply_prefix)
        for parameter in (config.api_keys_parameter, config.webhook_secret_parameter):
            if parameter is not None:
                allow_read_parameter(web.role, parameter)
        queues.dead_letter_queue.grant_consume_messages(web.role)
        queues.dead_letter_queue.grant_send_messages(web.role)  # the drainer's wake-up at shutdown
        allow_activation(web.role, workers.group_name)  # and the standby's in-service count
        # Jobs: plan chunks onto the job queue (its depth too), write off dead-lettered chunks.
        queues.job_queue.grant_send_messages(web.role)
        queues.job_dead_letter_queue.grant_consume_messages(web.role)
        if config.standby_workers > 0:  # the standby consumes requests (and chunks) as a worker does
            queues.request_queue.grant_consume_messages(web.role)
            queues.job_queue.grant_consume_messages(web.role)

        dashboard = Dashboard(
            self,
            "Dashboard",
            request_queue=queues.request_queue,
            dead_letter_queue=queues.dead_letter_queue,
            worker_group_name=workers.group_name,
            front_door=FrontDoorMetrics(
                load_balancer=load_balancer.load_balancer,
                target_group=load_balancer.target_group,
                web_group_name=web.auto_scaling_group.auto_scaling_group_name,
            ),
            log_group_names=[log_groups.name(role) for role in ("web", "worker", "bootstrap")],
        )
        alarms = AlarmTopic(self, "Alarms", email=config.alarm_email)
        alarms.notify(dashboard.dead_letters_alarm)
        workers.refresh.notify_failures(alarms.topic)

        outputs = {
            "UploadUrl": (
                f"{load_balancer.url}/upload",
                "POST an image here (multipart/form-data, field 'myfile')",
            ),
            "WebUrl": (load_balancer.url, "the load balancer in front of the web tier (upload page, /docs)"),
            "InputBucketName": (storage.input_bucket.bucket_name, "uploaded images"),
            "OutputBucketName": (storage.output_bucket.bucket_name, "results (JSON, key = request id)"),
            "RequestQueueName": (queues.request_queue.queue_name, "requests to the workers"),
            "DeadLetterQueueName": (queues.dead_letter_queue.queue_name, "requests that kept failing"),
            "ReplyQueuePrefix": (reply_prefix, "each web process's own reply queue is <prefix>-<12 hex>"),
            "WebGroupName": (web.auto_scaling_group.auto_scaling_group_name, "the web Auto Scaling group"),
            "WorkerGroupName": (workers.group_name, "the worker Auto Scaling group"),
            "DashboardUrl": (dashboard.url, "the CloudWatch dashboard"),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
