"""Per-deployment settings of the CDK app as one typed dataclass, built in `app.py` from context.

Nothing else in `infra/` reads context or the environment: constructs get what they need from
`ServiceConfig` through typed keyword arguments.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, get_args

from infra.architecture import ARCHITECTURES, UNSERVED, Architecture, architecture_of, served
from services.elasticity.policy import ScalingPolicy

Stage = Literal["dev", "prod"]
STAGES: tuple[Stage, ...] = get_args(Stage)
Engine = Literal["auto", "onnxruntime", "onnxruntime-int8", "openvino"]
ENGINES: tuple[Engine, ...] = get_args(Engine)

# S3's bucket naming rules (general purpose buckets; S3 user guide, "Bucket naming rules", 2026-12).
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
AMI_ID = re.compile(r"ami-[0-9a-f]{8,17}")
# A key's ARN (a single-Region key id, or a multi-Region one: mrk-...); never an alias, which IAM
# cannot name in a key policy's resource.
KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})")

# The context keys `app.py` reads (cdk.json or `cdk synth -c key=value`), mapped to config fields.
CONTEXT_KEYS: Mapping[str, str] = {
    "minCapacity": "min_capacity",
    "maxCapacity": "max_capacity",
    "modelAmiId": "model_ami_id",
    "amiIds": "ami_ids",
    "workerInstanceType": "worker_instance_type",
    "webInstanceType": "web_instance_type",
    "maxReceives": "max_receives",
    "sshCidr": "ssh_cidr",
    "warmPoolSize": "warm_pool_size",
    "webWaitSeconds": "web_wait_seconds",
    "webMinCapacity": "web_min_capacity",
    "webMaxCapacity": "web_max_capacity",
    "webProcesses": "web_processes",
    "certificateArn": "certificate_arn",
    "wafRateLimit": "waf_rate_limit",
    "apiKeysParameter": "api_keys_parameter",
    "webhookSecretParameter": "webhook_secret_parameter",
    "rateLimitPerSecond": "rate_limit_per_second",
    "engine": "engine",
    "logRetentionDays": "log_retention_days",
    "alarmEmail": "alarm_email",
    "standbyWorkers": "standby_workers",
    "jobSourceBuckets": "job_source_buckets",
    "jobOutputBuckets": "job_output_buckets",
    "jobKmsKeys": "job_kms_keys",
}
# What CloudWatch Logs accepts as a retention (PutRetentionPolicy, retentionInDays; 2026-12).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# Every other feature flag, pinned to the value this aws-cdk-lib uses when it is unset (so the
# template does not change, and the CLI stops printing "N feature flags are not configured").
# Made from `cdk flags --unstable=flags`; after an aws-cdk-lib upgrade, add the new ones.
_PINNED_FLAGS: dict[str, object] = json.loads((Path(__file__).parent / "feature_flags.json").read_text())

# CDK feature flags the constructs rely on. Given to `cdk.App(context=...)` by app.py and the
# tests (not in cdk.json, which only the CLI reads: `python app.py` must synthesize the same).
FEATURE_FLAGS: Mapping[str, object] = {
    **_PINNED_FLAGS,
    # Server access logs are delivered via a bucket policy, not the legacy ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
}


# X-API-Key is a header: without a certificate the load balancer listens on port 80 only.
API_KEYS_IN_CLEAR = (
    "apiKeysParameter without certificateArn: API keys would cross the internet unencrypted (HTTP)"
)


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    stage: Stage = "dev"
    # dev: buckets are destroyed with the stack (objects auto-deleted); prod: they are retained.
    retain_data: bool = False
    # The ONE scaling policy (services/scaling.py); only min/max capacity can be overridden here.
    scaling: ScalingPolicy = field(default_factory=ScalingPolicy)
    # None: the pinned Amazon Linux 2023 image (`ami_ids`). Otherwise an AL2023-based image.
    model_ami_id: str | None = None
    # The Amazon Linux 2023 images the instances boot, per region and architecture, as
    # `evision ami pin` (make refresh-ami) wrote them into cdk.context.json: an AL2023 release
    # rolls no instance until someone moves the pin. Empty: the latest AL2023, resolved from its
    # public SSM parameter at each deploy (every release, about every two weeks, is a rollout).
    ami_ids: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # 2 vCPUs: the worker runs one inference thread per core (see FIELD-NOTES).
    worker_instance_type: str = "c7i.large"
    worker_threads: int = 2  # inference threads sharing one session: one per vCPU
    # The web tier's instances (2 vCPUs, 2 GiB: two web processes and a standby worker).
    web_instance_type: str = "t3.small"
    volume_gib: int = 10
    # Receives before a message goes to the dead-letter queue.
    max_receives: int = 3
    # The visibility timeout is a short lease the worker's heartbeat renews every 3 s while a batch
    # runs: a killed worker's messages come back within it rather than after a worst-case batch.
    lease_seconds: int = 10
    # Worst-case batch: `batch_size` images of the slowest allowed kind (10 MB download + a
    # 4000x3000 decode + inference, ~2 s on a busy core), times a safety factor: how long a
    # stopping worker may take to finish its batch.
    batch_size: int = 10
    worst_case_image_seconds: float = 2.0
    visibility_safety_factor: float = 3.0
    # Inputs are only needed until their result is written; results (output bucket) are kept.
    input_expiry_days: int = 30
    # None: no SSH (use SSM Session Manager). A CIDR opens port 22 of the web tier to it.
    ssh_cidr: str | None = None
    # Stopped, pre-installed worker instances that join in ~30 s instead of a ~77 s cold boot and
    # install; they cost their EBS volume only (services/elasticity/simulator/calibration.py).
    # Workers are On-Demand instances: warm pools cannot be used with Spot or a mixed instances
    # policy (EC2 Auto Scaling user guide, "Warm pools"), so choosing Spot means warm_pool_size 0.
    warm_pool_size: int = 1
    # How long an upload waits for its label before 202: a warm start (~30 s) plus a burst must
    # fit (the simulator's cold burst of 100: ~32 s). A load balancer's idle timeout must exceed it.
    web_wait_seconds: int = 60
    # The web tier: an Auto Scaling group behind the load balancer, `web_processes` per instance
    # (one per vCPU of a t3.small), scaled on requests per instance (services/elasticity/web_capacity.py).
    web_min_capacity: int = 1
    web_max_capacity: int = 4
    web_processes: int = 2
    # An ACM certificate's ARN: HTTPS on 443 and port 80 redirects. None: HTTP on port 80 only.
    certificate_arn: str | None = None
    # A WAF rate-based rule on the load balancer: requests per client IP per 5 minutes (None: no WAF).
    waf_rate_limit: int | None = None
    # API keys on: the name of an SSM SecureString parameter holding them (created outside the stack).
    api_keys_parameter: str | None = None
    # An SSM SecureString you create holding the key of the jobs' webhook signatures (16+
    # characters); unset, jobs with a webhook are refused.
    webhook_secret_parameter: str | None = None
    # The web tier's own per-client limit, per web process (0: none).
    rate_limit_per_second: float = 0.0
    # The workers' inference engine (services/worker/settings.py `engine`): auto (the fastest
    # installed engine that agrees with fp32 on the golden images, chosen at each worker's start:
    # model/engine_choice.py), onnxruntime (pins the fp32 reference), or openvino (bf16 where the
    # CPU has it; workers then also install OpenVINO). auto needs no OpenVINO: on c7i it races
    # ONNX Runtime fp32 against the model's int8 variant, which VNNI and AMX run as 8-bit dot
    # products (int8 2.0-2.2x fp32 on the AVX-512 VNNI hosts here, issue #38; OpenVINO bf16 gave
    # only x1.06-1.09 end to end), and it runs on Graviton too.
    engine: Engine = "auto"
    # How long CloudWatch Logs keeps the bootstrap's, the web tier's and the workers' logs.
    log_retention_days: int = 30
    # An address the alarms (e.g. dead letters that stay) notify, through the stack's SNS topic.
    alarm_email: str | None = None
    # Standby workers per web instance (`evision worker --standby`, one inference thread each):
    # they answer while the worker group has no worker in service (at zero, or warming), so a cold
    # burst is answered in about a second instead of after a warm start (~30 s). 0: none.
    standby_workers: int = 1
    # Each one's memory ceiling (systemd MemoryMax) on the web instance: a t3.small has 2 GiB, the
    # web processes use ~0.2 GiB each, a standby ~0.25 GiB (README, "Standby workers").
    standby_memory_mib: int = 640
    # Buckets of your own that batch jobs may read (s3://bucket/prefix sources: the web role lists
    # them, the worker role reads their objects) and write (job outputs: the web role puts the
    # parts and _SUCCESS.json). The stack's input bucket is always readable, its output bucket
    # always writable.
    job_source_buckets: tuple[str, ...] = ()
    job_output_buckets: tuple[str, ...] = ()
    # The customer-managed KMS keys (key ARNs) those buckets' objects are encrypted under: the roles
    # that read job images get kms:Decrypt on exactly these, the web role (it writes the outputs)
    # kms:GenerateDataKey too.
    job_kms_keys: tuple[str, ...] = ()

    @property
    def worker_architecture(self) -> Architecture:
        return architecture_of(self.worker_instance_type)

    @property
    def web_architecture(self) -> Architecture:
        return architecture_of(self.web_instance_type)

    @property
    def worker_lock(self) -> str:
        """The bundle's lock file the workers install."""
        return "requirements-openvino.lock" if self.engine == "openvino" else "requirements.lock"

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if not 1 <= self.max_receives <= 1000:
            raise ValueError(f"max_receives must be in 1..1000, got {self.max_receives}")
        if not 1 <= self.batch_size <= 10:
            raise ValueError(f"batch_size must be in 1..10 (SQS receive limit), got {self.batch_size}")
        if not 0 < self.visibility_timeout_seconds <= 43200:
            raise ValueError(
                f"visibility timeout must be in 1..43200 s, got {self.visibility_timeout_seconds}"
            )
        if not 0 <= self.warm_pool_size <= self.scaling.max_capacity:
            raise ValueError(f"warmPoolSize must be in 0..maxCapacity, got {self.warm_pool_size}")
        if not 1 <= self.web_wait_seconds <= 3600:
            raise ValueError(f"webWaitSeconds must be in 1..3600, got {self.web_wait_seconds}")
        if not 1 <= self.web_min_capacity < self.web_max_capacity <= 100:
            raise ValueError(
                "webMinCapacity must be at least 1 and below webMaxCapacity (a rolling update needs "
                f"room), at most 100; got {self.web_min_capacity}..{self.web_max_capacity}"
            )
        if not 1 <= self.web_processes <= 64:
            raise ValueError(f"webProcesses must be in 1..64, got {self.web_processes}")
        if self.certificate_arn is not None and not self.certificate_arn.startswith("arn:"):
            raise ValueError(f"certificateArn must be an ACM certificate ARN, got {self.certificate_arn!r}")
        if self.api_keys_parameter is not None and self.certificate_arn is None and self.stage == "prod":
            raise ValueError(API_KEYS_IN_CLEAR)
        if self.waf_rate_limit is not None and self.waf_rate_limit < 10:
            raise ValueError(
                f"wafRateLimit must be at least 10 (requests per 5 minutes), got {self.waf_rate_limit}"
            )
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"logRetentionDays must be one of {LOG_RETENTION_DAYS}, got {self.log_retention_days}"
            )
        if self.alarm_email is not None and "@" not in self.alarm_email:
            raise ValueError(f"alarmEmail must be an e-mail address, got {self.alarm_email!r}")
        if not 0 <= self.standby_workers <= 4:
            raise ValueError(f"standbyWorkers must be in 0..4 per web instance, got {self.standby_workers}")
        for key, names in (
            ("jobSourceBuckets", self.job_source_buckets),
            ("jobOutputBuckets", self.job_output_buckets),
        ):
            for name in names:
                if not BUCKET_NAME.fullmatch(name) or ".." in name:
                    raise ValueError(f"{key}: {name!r} is not an S3 bucket name")
        for arn in self.job_kms_keys:
            if not KMS_KEY_ARN.fullmatch(arn):
                raise ValueError(f"jobKmsKeys: {arn!r} is not a KMS key ARN (arn:aws:kms:REGION:ACCT:key/ID)")
        if self.model_ami_id is not None and not self.model_ami_id.startswith("ami-"):
            raise ValueError(f"modelAmiId must look like ami-..., got {self.model_ami_id!r}")
        for region, images in self.ami_ids.items():
            if not REGION.fullmatch(region):
                raise ValueError(f"amiIds: {region!r} is not an AWS region name")
            for architecture, image in images.items():
                if architecture not in ARCHITECTURES or not AMI_ID.fullmatch(str(image)):
                    raise ValueError(
                        f"amiIds: {region}.{architecture}={image!r} is not an architecture's AMI id"
                    )
        for key, instance_type in (
            ("workerInstanceType", self.worker_instance_type),
            ("webInstanceType", self.web_instance_type),
        ):
            try:
                architecture_of(instance_type)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        if not served(self.worker_lock, self.worker_architecture):
            reason = UNSERVED[(self.worker_architecture, self.worker_lock)]
            raise ValueError(
                f"workerInstanceType={self.worker_instance_type} is {self.worker_architecture}: {reason}"
            )

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a dev deployment may do but should not (prod refuses it); the stack shows them."""
        return (API_KEYS_IN_CLEAR,) if self.api_keys_parameter and self.certificate_arn is None else ()

    @property
    def visibility_timeout_seconds(self) -> int:
        return self.lease_seconds

    @property
    def worst_case_batch_seconds(self) -> int:
        return math.ceil(self.batch_size * self.worst_case_image_seconds * self.visibility_safety_factor)

    @property
    def drain_timeout_seconds(self) -> int:
        """How long systemd lets a stopping worker finish its batch before SIGKILL."""
        return self.worst_case_batch_seconds + 30

    @classmethod
    def for_stage(cls, stage: str, context: Mapping[str, object] | None = None) -> ServiceConfig:
        """Defaults of `stage`, overridden by raw context values (`-c` gives strings)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
        config = cls(stage=stage, retain_data=stage == "prod")
        return config.with_context(context or {})

    def with_context(self, context: Mapping[str, object]) -> ServiceConfig:
        unknown = sorted(set(context) - set(CONTEXT_KEYS))
        if unknown:
            raise ValueError(f"unknown context keys {unknown}; known: {sorted(CONTEXT_KEYS)}")
        values = {CONTEXT_KEYS[key]: value for key, value in context.items() if value not in (None, "")}
        scaling = replace(
            self.scaling,
            min_capacity=_as_int("min_capacity", values.pop("min_capacity", self.scaling.min_capacity)),
            max_capacity=_as_int("max_capacity", values.pop("max_capacity", self.scaling.max_capacity)),
        )
        integers = ("max_receives", "warm_pool_size", "web_wait_seconds", "web_min_capacity")
        more = ("web_max_capacity", "web_processes", "waf_rate_limit", "log_retention_days")
        for name in (*integers, *more, "standby_workers"):
            if name in values:
                values[name] = _as_int(name, values[name])
        strings = ("model_ami_id", "worker_instance_type", "web_instance_type", "ssh_cidr")
        secrets = ("api_keys_parameter", "webhook_secret_parameter")
        for name in (*strings, "certificate_arn", *secrets, "engine", "alarm_email"):
            if name in values:
                values[name] = str(values[name])
        for name in ("job_source_buckets", "job_output_buckets", "job_kms_keys"):
            if name in values:
                values[name] = _as_names(values[name])
        if "ami_ids" in values:
            values["ami_ids"] = _as_mapping("amiIds", values["ami_ids"])
        if "rate_limit_per_second" in values:
            values["rate_limit_per_second"] = _as_float(
                "rate_limit_per_second", values["rate_limit_per_second"]
            )
        return replace(self, scaling=scaling, **values)  # type: ignore[arg-type]


def _as_names(value: object) -> tuple[str, ...]:
    """A list (cdk.json) or a comma-separated string (`-c key=a,b`)."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _as_mapping(name: str, value: object) -> dict[str, dict[str, str]]:
    """An object (cdk.context.json) or its JSON text (`-c key='{...}'`)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"{name} must be a JSON object, got {value!r}") from None
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ValueError(f"{name} must map a region to {{architecture: AMI id}}, got {value!r}")
    return {str(region): {str(a): str(i) for a, i in images.items()} for region, images in value.items()}


def _as_int(name: str, value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _as_float(name: str, value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        raise ValueError(f"{name} must be a number, got {value!r}") from None
