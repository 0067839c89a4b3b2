"""The ports the services talk through: a blob store, a message queue, the backend providing them,
and the image classifier the worker runs.

Web, worker and supervisor code depends only on these protocols. A backend is a plug-in:
`services.adapters.registry` finds it by name (`EVISION_BACKEND`); `services/adapters/local/`
(files + SQLite) and `services/adapters/aws/` (S3 + SQS) implement it. No code outside
`services/adapters/` names a backend: what differs between them is asked of the `Backend`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from services.contract import ErrorKind

if TYPE_CHECKING:
    from services.settings import BackendSettings


Metadata = Mapping[str, str] | None  # a blob's user metadata (ASCII values: S3 user metadata)
BINARY = "application/octet-stream"  # the content type of a blob put without one


class BlobNotFoundError(KeyError):
    """The key does not exist in the store."""


class ResourceNotFoundError(LookupError):
    """A bucket or queue that does not exist (never provisioned, or deleted: e.g. the reply queue
    of a web process that has stopped)."""


class SourceUnreadableError(Exception):
    """A batch job's source this service cannot list: no such bucket, or no permission."""


class OutputUnwritableError(Exception):
    """A batch job's output location this service cannot write: no such bucket, no permission."""


@dataclass(frozen=True, slots=True)
class Blob:
    data: bytes
    metadata: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class BlobStore(Protocol):
    """A bucket: whole objects by key. Writes are atomic (a reader never sees half an object)."""

    @property
    def name(self) -> str: ...

    def put(
        self, key: str, data: bytes, *, metadata: Metadata = None, content_type: str = BINARY
    ) -> None: ...

    def get(self, key: str) -> Blob:
        """Raises BlobNotFoundError when the key does not exist."""
        ...

    def exists(self, key: str) -> bool: ...

    def keys_between(self, after: str, before: str) -> Iterator[str]:
        """The keys k with `after` < k < `before`, in ascending order (S3's list order)."""
        ...


class SignatureRefusedError(PermissionError):
    """A signed upload the store will not take: expired, forged, or of another size (the reason)."""


@dataclass(frozen=True, slots=True)
class SignedPut:
    """Where a client PUTs one object itself: `url` is absolute (the store's own endpoint, e.g.
    an S3 presigned URL) or a path on the web tier that signed it; `headers` must be sent as they
    are (they are part of the signature: Content-Length, which bounds the object's size)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class JobStaging(Protocol):
    """A role some blob stores play: a prefix of the bucket where a client stages its own images
    for a batch job (`evision batch ./photos --url ...`). Keys are `prefix + name`, names relative
    POSIX paths (checked by the caller). Writes are atomic, so a key that is there is whole."""

    def staging_location(self, prefix: str) -> str:
        """The staged prefix as a job source location (what `Backend.job_source` reads)."""
        ...

    def staged_sizes(self, prefix: str, names: Sequence[str]) -> dict[str, int]:
        """The sizes of those of `names` already stored under `prefix` (one listing)."""
        ...


@runtime_checkable
class PresignsPuts(Protocol):
    """A staging store with its own endpoint (S3): clients PUT to it directly, with its signature."""

    def sign_put(self, key: str, size: int, expires_at: int) -> SignedPut:
        """A PUT of exactly `size` bytes to `key`, valid until `expires_at` (unix seconds)."""
        ...


@runtime_checkable
class ReceivesSignedPuts(Protocol):
    """A staging store whose signed PUTs the web tier receives itself (no endpoint of its own,
    e.g. local files): it signs, and checks the signature, the expiry and the size, then writes."""

    def signature(self, key: str, size: int, expires_at: int) -> str:
        """The signature of a PUT of exactly `size` bytes to `key` until `expires_at`."""
        ...

    def receive_put(self, key: str, size: int, expires_at: int, signature: str, data: bytes) -> None:
        """Raises SignatureRefusedError (why) for an expired or forged signature or another size."""
        ...


@dataclass(frozen=True, slots=True)
class Message:
    message_id: str
    receipt: str  # handle for delete / extend_visibility; changes on every receive
    body: str
    receive_count: int  # 1 on first delivery


@dataclass(frozen=True, slots=True)
class QueueDepth:
    visible: int  # waiting to be received
    in_flight: int  # received, not yet deleted, visibility timeout not expired

    @property
    def outstanding(self) -> int:
        return self.visible + self.in_flight


@runtime_checkable
class MessageQueue(Protocol):
    """A queue with SQS semantics: at-least-once, visibility timeout, receive count, dead-letter."""

    @property
    def name(self) -> str: ...

    def send(self, body: str) -> str:
        """Send one message; returns its message id."""
        ...

    def send_batch(self, bodies: Sequence[str]) -> None:
        """Send many messages (any count; adapters chunk to the backend's batch limit)."""
        ...

    def receive(
        self, max_messages: int = 10, wait_seconds: float = 20.0, visibility_timeout: float | None = None
    ) -> list[Message]:
        """Long-poll: return as soon as at least one message is available, or [] after wait_seconds."""
        ...

    def delete_batch(self, receipts: Sequence[str]) -> None: ...

    def extend_visibility(self, receipts: Sequence[str], seconds: float) -> None:
        """Make received messages invisible for `seconds` from now (0 releases them at once)."""
        ...

    def release_held_by(self, process_id: int) -> int:
        """Release at once what a (crashed) process on this machine received and did not finish;
        returns how many. 0 where the backend cannot tell (SQS: the lease runs out by itself)."""
        ...

    def depth(self) -> QueueDepth: ...


@runtime_checkable
class ReplyQueues(Protocol):
    """The per-process reply queues (one per web process): created at its start, marked alive
    while it runs, deleted at its graceful stop; what a crashed process left is found by idleness
    (`idle`) and deleted by the processes still running. Marks are wall-clock epoch seconds, so
    processes on different machines compare them."""

    def create(self, name: str) -> MessageQueue:
        """Create the queue (marked alive now) and return it."""
        ...

    def mark_alive(self, name: str) -> None: ...

    def idle(self, prefix: str, since: float) -> list[str]:
        """The queues named `<prefix>-...` whose last mark is older than `since`."""
        ...

    def delete(self, name: str) -> None:
        """Delete the queue and its messages; a queue already gone is not an error."""
        ...


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a worker runs, as its platform names it: the group it belongs to (None: no group,
    e.g. a local worker), its instance (None: ask the platform's metadata service), the group's
    launch hook it completes, and that metadata service."""

    group: str | None = None
    instance_id: str | None = None
    launch_hook: str | None = None
    metadata_url: str = "http://169.254.169.254"


class ScaleInProtection(Protocol):
    """Keeps the platform from removing this worker while it holds messages (no-op where none)."""

    def set_busy(self, busy: bool) -> None: ...


class NoProtection:
    """Nothing to protect: e.g. local workers, which the supervisor drains with SIGTERM."""

    def set_busy(self, busy: bool) -> None:
        return None


@dataclass(frozen=True, slots=True)
class StatisticSet:
    """Values summarised as count, sum, minimum and maximum (a CloudWatch statistic set)."""

    count: int
    total: float
    low: float
    high: float


class MetricsSink(Protocol):
    """Where a worker publishes what it did in one interval (cloud: CloudWatch metrics)."""

    def publish(self, images: int, batch_ms: StatisticSet, image_ms: StatisticSet | None) -> None: ...


class DepthReporter(Protocol):
    """Publishes the request queue's depth where the cloud's fast scaling alarms read it."""

    def report(self, queue: str, depth: QueueDepth) -> None: ...


class CapacityActivator(Protocol):
    """Starts workers at once when the group has none (the first upload must not wait for a metric)."""

    def activate(self) -> bool:
        """Raise the group's capacity from zero; True if this call did (a blocking call)."""
        ...


class ActivationRequests(Protocol):
    """Where a local supervisor learns that an upload asked for workers (see `capacity_activator`)."""

    def take(self) -> bool:
        """Whether one did since the last call."""
        ...


class WorkerGroupGauge(Protocol):
    """How many workers of the worker group are in service (taking work) now: what a standby
    worker asks before it takes work (it bridges only while the group has none)."""

    def in_service(self) -> int:
        """The count (a blocking call; raises if the backend cannot tell just now)."""
        ...


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A model in the deployment's registry: what `evision model list` and GET /v1/models show."""

    name: str
    version: str  # the first 12 hex digits of the model file's sha256
    size_bytes: int
    engines: tuple[str, ...]  # the engines its golden images agreed on when it was added
    images_per_second: Mapping[str, float]  # one thread, on the machine that added it
    added_at: float

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


class ModelRegistry(Protocol):
    """Where the deployment keeps its models (folders, as model/ describes them): locally under
    the data dir, in the cloud under a prefix of the output bucket."""

    def publish(self, entry: RegisteredModel, folder: Path, files: Sequence[str]) -> None:
        """Store `files` (relative to `folder`) under `entry.ref`, the entry last (so a listed
        model is always whole). Idempotent."""
        ...

    def entries(self) -> list[RegisteredModel]: ...

    def download(self, ref: str, into: Path) -> Path:
        """The model's folder, copied under `into` (LookupError: no such model)."""
        ...


class JobOutput(Protocol):
    """Where a finished job's results are copied (a folder, or a bucket prefix): whole files."""

    @property
    def location(self) -> str: ...

    def write(self, name: str, data: bytes) -> None:
        """Write `name` under the location, atomically (a reader never sees half a file).
        OutputUnwritableError where it cannot (no such bucket or folder, no permission)."""
        ...


class JobSource(Protocol):
    """Where a batch job's images come from (read-only): a bucket prefix or a local folder."""

    @property
    def location(self) -> str: ...

    def keys_after(self, cursor: str) -> Iterator[str]:
        """The source's image keys above `cursor` ("" for all), in ascending order.
        SourceUnreadableError where it cannot be listed (no such bucket, no permission)."""
        ...

    def read(self, key: str) -> bytes:
        """Raises BlobNotFoundError when the key is gone."""
        ...


@dataclass(frozen=True, slots=True)
class SecretParameter:
    """What a deployment's secret parameter is, as its owner sees it (not its value)."""

    name: str
    region: str
    secure: bool  # encrypted at rest (SSM SecureString)
    key_id: str | None  # the KMS key that encrypts it (None or the AWS-managed key: alias/aws/ssm)


@dataclass(frozen=True, slots=True)
class Certificate:
    arn: str
    region: str
    status: str  # ACM: ISSUED, PENDING_VALIDATION, EXPIRED, ...


@dataclass(frozen=True, slots=True)
class KmsKey:
    """A customer-managed KMS key and the principals its key policy names (ARNs, as written)."""

    arn: str
    policy_principals: frozenset[str]


@dataclass(frozen=True, slots=True)
class Usage:
    """How many of a regional resource the account has, against its quota (None: cannot tell)."""

    name: str
    used: int
    quota: float | None


class PreflightProbe(Protocol):
    """Read-only questions about the account a deployment is about to go into (the user's own
    credentials and region). Each raises LookupError for a thing that is not there and
    PermissionError (with the reason) where the credentials may not ask."""

    def identity(self) -> tuple[str, str]:
        """(account, region) the credentials reach; raises ConnectionError if they reach none."""
        ...

    def bootstrap_version(self, qualifier: str) -> int:
        """The CDK bootstrap stack's version in this region (LookupError: not bootstrapped)."""
        ...

    def vcpus(self, instance_type: str) -> int: ...

    def on_demand_standard_vcpu_quota(self) -> float | None:
        """The account's running On-Demand standard-instance vCPU quota here (None: cannot tell)."""
        ...

    def zones(self) -> list[str]:
        """The region's available zones, in the order CloudFormation's Fn::GetAZs gives them."""
        ...

    def zones_offering(self, instance_type: str) -> set[str]: ...

    def secret_parameter(self, name: str) -> SecretParameter: ...

    def certificate(self, arn: str) -> Certificate: ...

    def bucket_region(self, name: str) -> str:
        """The region an S3 bucket is in (LookupError: no such bucket)."""
        ...

    def latest_image(self, architecture: str) -> str:
        """The newest Amazon Linux 2023 AMI id for `architecture` (x86_64 | arm64) in this region,
        from its public SSM parameter (what `MachineImage.latest_amazon_linux2023` resolves)."""

    def network_usage(self) -> list[Usage]:
        """The region's VPCs and internet gateways, each against its Service Quotas value."""
        ...

    def ebs_default_key(self) -> KmsKey | None:
        """The customer-managed KMS key EBS encryption by default uses here (None: encryption by
        default is off, or on the AWS-managed key)."""
        ...

    def assets_bucket_key(self, qualifier: str) -> KmsKey | None:
        """The customer-managed KMS key of the CDK assets bucket's default encryption (None: SSE-S3
        or the AWS-managed key; LookupError: no such bucket)."""
        ...


class Silent:
    """Where the backend has no cloud metrics or capacity to drive (e.g. local: the supervisor
    reads the queue itself every period)."""

    def report(self, queue: str, depth: QueueDepth) -> None:
        return None

    def activate(self) -> bool:
        return False

    def publish(self, images: int, batch_ms: StatisticSet, image_ms: StatisticSet | None) -> None:
        return None


@runtime_checkable
class Backend(Protocol):
    """What a storage-and-queue backend provides to one process. Thread-safe; `close()` at exit."""

    @property
    def name(self) -> str:
        """The registry name (`EVISION_BACKEND`), for display."""
        ...

    @property
    def settings(self) -> BackendSettings:
        """The settings it was opened with."""
        ...

    @property
    def calls_are_brief(self) -> bool:
        """Whether a put or send returns within a millisecond or so, never waiting on a network.

        Then callers may run them on an event loop or the calling thread rather than hopping to
        a worker thread, whose hand-off costs more than such a call.
        """
        ...

    @property
    def provisions_itself(self) -> bool:
        """Whether this process must create the buckets and queues (`provision`) before use.

        True for an embedded store and for an emulator; False where infrastructure owns them.
        """
        ...

    @property
    def capacity_manager(self) -> str | None:
        """Who scales the workers when no local supervisor runs (e.g. "auto scaling group")."""
        ...

    def blobs(self, bucket: str) -> BlobStore: ...

    def queue(self, name: str) -> MessageQueue: ...

    def provision(self, settings: BackendSettings, reply_queues: Sequence[str] = ()) -> None:
        """Create the buckets and queues if missing; the request queue dead-letters after
        `settings.max_receives` receives. Idempotent."""
        ...

    def reply_queues(self) -> ReplyQueues:
        """Where web processes create, keep alive and delete their own reply queues."""
        ...

    def unavailable_reason(self) -> str | None:
        """Why the service's data cannot be read from here (read-only check), or None."""
        ...

    def delete_expired(self, now: float) -> int:
        """Delete inputs and results past `settings`' expiry, where the backend does not do it
        itself (S3 lifecycle rules do); how many objects went."""
        ...

    def scale_in_protection(self, placement: Placement) -> ScaleInProtection:
        """Protection of this worker from scale-in while busy (NoProtection where it has none)."""
        ...

    def await_serving(self, placement: Placement, stop: threading.Event) -> bool:
        """Block until this worker may take work (e.g. its instance is in service, not in a warm
        pool); False if `stop` was set first."""
        ...

    def metrics_sink(self) -> MetricsSink:
        """Where workers publish their metrics (Silent: nowhere)."""
        ...

    def depth_reporter(self) -> DepthReporter:
        """Where the web tier publishes the queue depth for the fast alarms (Silent: nowhere)."""
        ...

    def capacity_activator(self, group: str | None, scale_to: int) -> CapacityActivator:
        """What raises `group` from zero to `scale_to` workers (Silent where nothing scales)."""
        ...

    def activation_requests(self) -> ActivationRequests | None:
        """What the activators of `capacity_activator` ask, for a supervisor that starts the workers
        itself; None where the activator acts on its own (cloud: SetDesiredCapacity)."""
        ...

    def worker_group_gauge(self, group: str | None) -> WorkerGroupGauge:
        """What counts `group`'s workers in service (cloud: its InService instances; local: the
        supervisor's workers that have started taking work). Raises ValueError if it needs a
        group name and got none."""
        ...

    def model_registry(self) -> ModelRegistry: ...

    def job_source(self, location: str) -> JobSource:
        """The images of `location` (aws: s3://bucket/prefix; local: an absolute folder path);
        raises ValueError for a location this backend cannot read."""
        ...

    def job_output(self, location: str) -> JobOutput:
        """Where results go (aws: s3://bucket/prefix; local: an absolute folder, created if
        missing); raises ValueError for a location this backend cannot write."""
        ...

    def preflight_probe(self) -> PreflightProbe | None:
        """What checks an account before a deployment into it (None: this backend deploys nothing)."""
        ...

    def read_secret(self, name: str) -> str:
        """The value of a secret this deployment keeps (cloud: an SSM SecureString parameter);
        raises LookupError if there is none of that name or the backend keeps no secrets, and
        PermissionError if it exists but this process may not read it (the reason in the message)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    """A local stand-in for a backend's services, e.g. an AWS emulator on 127.0.0.1."""

    environment: Mapping[str, str]  # the variables that point clients (and children) at it
    pid: int | None = None  # its own process, if it has one (its CPU is then measurable apart)


class BackendPlugin(Protocol):
    """A backend package's entry point (`plugin` in its `__init__`), as the registry loads it."""

    def open(self, settings: BackendSettings) -> Backend: ...

    def emulator(self, *, own_process: bool = False) -> AbstractContextManager[RunningEmulator] | None:
        """Start a local emulator of this backend's services, or None if it needs none."""
        ...


# -- the classifier -----------------------------------------------------------------------------
class ImageRejectedError(ValueError):
    """An image the classifier cannot read: `kind` from the contract's one vocabulary, `reason` why."""

    def __init__(self, kind: ErrorKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class Prediction(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def top5(self) -> Sequence[tuple[str, float]]: ...


class ImageClassifier(Protocol):
    """What the worker needs from a model: decode into a batch tensor, then classify the batch.

    `preprocess` raises ImageRejectedError for an image it cannot read (and nothing else for a bad
    image); `infer` is thread-safe.
    """

    @property
    def name(self) -> str:
        """The model and the exact weights (and engine), as recorded in every result."""
        ...

    @property
    def input_shape(self) -> tuple[int, int, int]: ...

    def preprocess(
        self, data: bytes, out: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32]: ...

    def infer(self, batch: npt.NDArray[np.float32]) -> Sequence[Prediction]: ...
