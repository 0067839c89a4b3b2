"""The whole service in one stack: the constructs of infra/, wired together; the environments
they run with come from infra/environment.py, their grants from infra/grants.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.alarm_topic import AlarmTopic
from infra.architecture import Architecture, bundle_name
from infra.assets import ServiceBundle
from infra.config import ServiceConfig
from infra.dashboard import Dashboard, FrontDoorMetrics
from infra.environment import Names, render_environments
from infra.grants import grant_web, grant_workers
from infra.hosts import HostProps
from infra.images import machine_image
from infra.load_balancer import LoadBalancer
from infra.logs import LogGroups
from infra.network import Network
from infra.queues import Queues
from infra.reply_queue_cleanup import ReplyQueueCleanup
from infra.storage import Storage
from infra.user_data import LogShipping, Standby
from infra.waf import RateLimitAcl
from infra.web import HTTP_PORT, WebTier
from infra.wheelhouse import LOCK, OPENVINO_LOCK
from infra.workers import Workers
from services.elasticity.web_capacity import WebCapacity

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


def network_of(stack: Stack, config: ServiceConfig) -> Network:
    """The VPC, its flow logs kept a year (a month where the stage does not retain data)."""
    return Network(
        stack,
        "Network",
        flow_log_retention=logs.RetentionDays.ONE_YEAR
        if config.retain_data
        else logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
    )


class StagedBundles:
    """One bundle per lock and architecture (infra/wheelhouse.py stages them), each made once: web
    instances never get OpenVINO, a Graviton tier gets aarch64 wheels."""

    def __init__(self, scope: Construct, source_dir: Path) -> None:
        self._scope = scope
        self._bundles = source_dir / "build" / "bundles"
        self._staged: dict[tuple[str, Architecture], ServiceBundle] = {}

    def __call__(self, lock: str, architecture: Architecture) -> ServiceBundle:
        if (lock, architecture) not in self._staged:
            self._staged[(lock, architecture)] = ServiceBundle(
                self._scope,
                BUNDLE_IDS.get((lock, architecture), f"Bundle{architecture.title().replace('_', '')}"),
                source_dir=self._bundles / bundle_name(lock, architecture),
                lock=lock,
            )
        return self._staged[(lock, architecture)]


def host_props(
    config: ServiceConfig, network: Network, bundles: StagedBundles
) -> tuple[HostProps, HostProps]:
    """Where the workers and the web instances run and what they boot: (workers, web)."""
    workers = HostProps(
        vpc=network.vpc,
        subnets=network.public_subnets,
        bundle=bundles(config.worker_lock, config.worker_architecture),
        machine_image=machine_image(config.model_ami_id, config.worker_architecture, config.ami_ids),
        instance_type=config.worker_instance_type,
        volume_gib=config.volume_gib,
    )
    web = replace(
        workers,
        bundle=bundles(BASE_LOCK, config.web_architecture),
        machine_image=machine_image(None, config.web_architecture, config.ami_ids),
        instance_type=config.web_instance_type,
    )
    return workers, web


class ServiceStack(Stack):
    """The list of what the service is made of; each part is a construct of infra/ or a function
    that wires two of them."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: ServiceConfig, source_dir: Path, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        show_warnings(self, config)
        network = network_of(self, config)
        storage = Storage(
            self, "Storage", retain=config.retain_data, input_expiry_days=config.input_expiry_days
        )
        queues = Queues(
            self,
            "Queues",
            max_receives=config.max_receives,
            visibility_timeout=Duration.seconds(config.visibility_timeout_seconds),
        )
        worker_host, web_host = host_props(config, network, StagedBundles(self, source_dir))
        names = Names.of(self.stack_name)
        environments = render_environments(config, storage=storage, queues=queues, names=names)
        log_groups = LogGroups(
            self, "Logs", retention_days=config.log_retention_days, retain=config.retain_data
        )
        workers = Workers(
            self,
            "Workers",
            host=worker_host,
            policy=config.scaling,
            request_queue=queues.request_queue,
            service_env=environments.worker,
            drain_seconds=config.drain_timeout_seconds,
            group_name=names.worker_group,
            warm_pool_size=config.warm_pool_size,
            lock=config.worker_lock,
            logs=LogShipping(service=log_groups.name("worker"), bootstrap=log_groups.name("bootstrap")),
        )
        web = WebTier(
            self,
            "Web",
            host=web_host,
            service_env=environments.web,
            min_capacity=config.web_min_capacity,
            max_capacity=config.web_max_capacity,
            drain_seconds=config.web_wait_seconds + 15,
            group_name=names.web_group,
            ssh_cidr=config.ssh_cidr,
            logs=LogShipping(service=log_groups.name("web"), bootstrap=log_groups.name("bootstrap")),
            standby=Standby(
                workers=config.standby_workers,
                service_env=environments.standby,
                memory_max_mib=config.standby_memory_mib,
            ),
        )
        log_groups.grant_shipping(workers.role, "worker", "bootstrap")
        log_groups.grant_shipping(web.role, "web", "bootstrap")
        load_balancer = front_door(self, config, network=network, web=web, names=names)
        grant_workers(workers.role, config, storage=storage, queues=queues, names=names)
        grant_web(web.role, config, storage=storage, queues=queues, names=names)
        dashboard = monitoring(
            self,
            config,
            queues=queues,
            workers=workers,
            web=web,
            load_balancer=load_balancer,
            log_groups=log_groups,
        )
        add_outputs(
            self,
            load_balancer=load_balancer,
            storage=storage,
            queues=queues,
            names=names,
            web=web,
            workers=workers,
            dashboard=dashboard,
        )


def front_door(
    stack: Stack, config: ServiceConfig, *, network: Network, web: WebTier, names: Names
) -> LoadBalancer:
    """The load balancer in front of the web tier (and its WAF rule if asked for), the web tier
    scaled on its requests, and the cleanup of the web processes' reply queues."""
    load_balancer = LoadBalancer(
        stack,
        "FrontDoor",
        vpc=network.vpc,
        targets=web.auto_scaling_group,
        target_port=HTTP_PORT,
        wait_seconds=config.web_wait_seconds,
        certificate_arn=config.certificate_arn,
    )
    web.behind(load_balancer.target_group)
    # Deleted after the web group (which depends on it): no run-time reply queue outlives the stack.
    cleanup = ReplyQueueCleanup(stack, "ReplyQueueCleanup", prefix=names.reply_prefix)
    web.auto_scaling_group.node.add_dependency(cleanup)
    web.scale_on_requests(WebCapacity().target_requests_per_minute)
    if config.waf_rate_limit is not None:
        RateLimitAcl(
            stack,
            "Waf",
            resource_arn=load_balancer.load_balancer.load_balancer_arn,
            limit=config.waf_rate_limit,
        )
    return load_balancer


def monitoring(
    stack: Stack,
    config: ServiceConfig,
    *,
    queues: Queues,
    workers: Workers,
    web: WebTier,
    load_balancer: LoadBalancer,
    log_groups: LogGroups,
) -> Dashboard:
    """The dashboard, and the alarm topic told of dead letters left undrained and of failed
    worker refreshes."""
    dashboard = Dashboard(
        stack,
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
    alarms = AlarmTopic(stack, "Alarms", email=config.alarm_email)
    alarms.notify(dashboard.dead_letters_alarm)
    workers.refresh.notify_failures(alarms.topic)
    return dashboard


def add_outputs(
    stack: Stack,
    *,
    load_balancer: LoadBalancer,
    storage: Storage,
    queues: Queues,
    names: Names,
    web: WebTier,
    workers: Workers,
    dashboard: Dashboard,
) -> None:
    """What `cdk deploy` prints and `evision` reads back from the stack."""
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
        "ReplyQueuePrefix": (names.reply_prefix, "each web process's own reply queue is <prefix>-<12 hex>"),
        "WebGroupName": (web.auto_scaling_group.auto_scaling_group_name, "the web Auto Scaling group"),
        "WorkerGroupName": (workers.group_name, "the worker Auto Scaling group"),
        "DashboardUrl": (dashboard.url, "the CloudWatch dashboard"),
    }
    for output_id, (value, description) in outputs.items():
        CfnOutput(stack, output_id, value=value, description=description)
