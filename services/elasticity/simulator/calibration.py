"""Every number the simulator assumes about the cloud and the workers, with its source.

One frozen dataclass per concern; `CLOUD` and `LOCAL` are the two calibrations the presets use.
Sources are either AWS documentation (named), or a measurement made here (named: the test or
benchmark that prints it, with the figure and the date). Where neither exists the value is an
estimate and says so; each is a parameter (`evision simulate --help`), not a constant in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from services.elasticity.simulator.deployment import DEPLOYED, Deployment
from services.elasticity.simulator.prices import Prices
from services.elasticity.simulator.requests import Clocks


@dataclass(frozen=True, slots=True)
class Phases:
    """How long a worker instance takes from the launch request to taking work, per phase (s)."""

    # RunInstances returns in ~1.5 s (FIELD-NOTES, "EC2 launch"; AWS EC2 user guide, instance lifecycle).
    launch_request: float = 1.5
    # pending -> running ~5-16 s on current families (FIELD-NOTES): the middle of the range.
    pending: float = 10.0
    # running -> user data starts: launch to SSH ~25 s on AL2023 (FIELD-NOTES), less the two above.
    os_boot: float = 13.5
    # Bootstrap, measured in tests/infra/test_bootstrap.py's sandbox on 2026-12-02 (2 vCPUs),
    # installing offline from the bundle's wheelhouse: `aws s3 cp` of the ~110 MB bundle 3 s,
    # venv 4 s, `pip install --no-index` 9 s (from a package index it was 30 s: PREVIOUS_PHASES).
    # On the instance `dnf install python3.11` comes first: an estimate (~15 s: repository
    # metadata plus ~30 MB of packages).
    bootstrap: float = 15.0 + 3.0 + 4.0 + 9.0
    # `evision worker` start to first reply: 0.9 s measured in the same sandbox (model load,
    # first receive); systemd start adds little.
    model_load: float = 1.0
    # A warm-pool instance (Stopped, already installed) starts again: EC2 start ~10-15 s, OS
    # boot, then the service; FIELD-NOTES: "instances wait Stopped and serve in ~30 s".
    warm_start: float = 30.0

    @property
    def cold_start(self) -> float:
        """Launch request to InService, from nothing (no warm pool)."""
        return self.launch_request + self.pending + self.os_boot + self.bootstrap + self.model_load


@dataclass(frozen=True, slots=True)
class WorkerSpeed:
    """How fast one instance (or local worker process) classifies."""

    # evision bench (README, 2 vCPUs), ONNX Runtime fp32: workers' CPU per image 11.5 ms on the
    # local backend, 15.1 ms on the aws backend (boto3 calls: +3.6 ms) -> 132 images/s per instance.
    # The default engine since issue #38 (auto: int8 here, and the JPEG fast path): `evision bench
    # --skip-aws --engine onnxruntime,onnxruntime-int8`, one run on 2026-12-06, worker loop CPU
    # per image 13.32 -> 7.80 ms (x0.586, a loaded machine: the ratio, not the figures) -> local
    # 11.5 x 0.586 = 6.7 ms, plus the unchanged 3.6 ms of boto3 = 10.3 ms -> 2 cores / 10.3 ms.
    images_per_second: float = 193.0
    batch_size: int = 10  # messages per receive (SQS maximum)
    # Fetch + store + reply + delete around a batch (not hidden by the overlap for a lone
    # image): evision bench c=1 p50 15.5 ms vs bare single 7.9 ms -> ~8 ms; on S3/SQS ~4 calls
    # of ~10-20 ms each: an estimate of 50 ms.
    round_trip: float = 0.05


# A model's speed relative to the committed EfficientNet-Lite0 (`evision model check`, one
# ONNX Runtime thread, batches of 4, one run on this 2-vCPU machine, 2026-12-04: Lite0 86, Lite1
# 55, Lite2 39 images/s): `evision simulate --model NAME` scales the workers' speed by it.
MODEL_SPEED: dict[str, float] = {
    "efficientnet-lite0": 1.0,
    "efficientnet-lite1": 55 / 86,
    "efficientnet-lite2": 39 / 86,
}


@dataclass(frozen=True, slots=True)
class StandbySpeed:
    """A standby worker on a web instance (`evision worker --standby`): one inference thread,
    taking work only while the worker group has no instance in service."""

    # evision bench-standby on 2026-12-03 (2 vCPUs, onnxruntime, one thread, the web tier taking
    # uploads at c=32 beside it): 45-49 images/s, ~0.4 x the two-core worker's 132. A t3.small
    # bursts above its 20 % baseline on CPU credits (T3 is "unlimited" by default: EC2 user
    # guide, "Unlimited mode for burstable performance instances"), so a bridge of ~30 s runs
    # at full speed.
    images_per_second: float = 48.0
    # WorkerSettings.standby_gate_seconds: how often it asks the group's in-service count (it
    # keeps taking work for up to this long after the first worker comes into service).
    gate_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class Metrics:
    """When a datapoint can be seen by an alarm."""

    # "CloudWatch metrics for your Amazon SQS queues are automatically collected and pushed to
    # CloudWatch at one-minute intervals" (Amazon SQS Developer Guide, monitoring with CloudWatch).
    sqs_resolution: float = 60.0
    # A sample is seen by alarms this long after it is taken: the value of a minute is pushed at
    # its end (60 s), and SQS datapoints then arrive about a minute late (not documented; an
    # estimate, configurable with --sqs-lag).
    sqs_lag: float = 120.0
    # A custom metric put with StorageResolution=1 can be read at 1-second resolution; alarms
    # take 10 s or 30 s periods on it (CloudWatch User Guide, high-resolution metrics/alarms).
    custom_resolution: float = 10.0
    custom_lag: float = 2.0  # the web tier's sample, put at once, to alarm visibility (estimate)


@dataclass(frozen=True, slots=True)
class Calibration:
    phases: Phases = field(default_factory=Phases)
    speed: WorkerSpeed = field(default_factory=WorkerSpeed)
    standby: StandbySpeed = field(default_factory=StandbySpeed)
    metrics: Metrics = field(default_factory=Metrics)
    prices: Prices = field(default_factory=Prices)
    deployment: Deployment = DEPLOYED  # the fixed part of the bill (deployment.py)
    clocks: Clocks = field(default_factory=Clocks)  # the web tier's background calls
    worker_instance_type: str = "c7i.large"  # infra/config.py
    web_instance_type: str = "t3.small"  # infra/config.py
    volume_gib: int = 10  # infra/config.py
    # The cloud's web wait (infra/config.py web_wait_seconds; locally 30 s, services/web/settings.py).
    wait_seconds: float = 60.0
    warm_pool_size: int = 1  # infra/config.py
    # SetDesiredCapacity to the group starting a (warm) instance: an API call plus the group's
    # reaction, ~1 s (estimate; the warm start itself is in Phases.warm_start).
    activation_delay: float = 1.0
    activation_interval: float = 10.0  # services/web/settings.py: at most one activation per 10 s
    billed: bool = True


CLOUD = Calibration()

# The deployment as it was before the fast-cloud work (for comparison): no warm pool, the
# 30 s web wait, the bootstrap's `pip install` from a package index (the same sandbox, before:
# bundle 1 s, venv 5 s, install 30 s); the rest as CLOUD.
PREVIOUS_PHASES = Phases(bootstrap=15.0 + 1.0 + 5.0 + 30.0)
PREVIOUS = Calibration(
    phases=PREVIOUS_PHASES,
    wait_seconds=30.0,
    warm_pool_size=0,
    deployment=replace(DEPLOYED, standby_workers=0),
)

# The local mode (`evision up`): worker processes on this machine, queue depth read directly.
LOCAL = Calibration(
    # `evision worker` process start to ready: Python start + imports + model load ~0.9 s
    # (tests/infra/test_bootstrap.py, start to first reply 0.9 s; tests/elasticity/test_burst.py
    # shows a worker serving ~0.5-1 s after the decision).
    phases=Phases(
        launch_request=0.0, pending=0.0, os_boot=0.0, bootstrap=0.0, model_load=0.9, warm_start=0.9
    ),
    # evision bench, worker loop alone (README, 2 vCPUs): ~170 images/s for the one local worker
    # that uses both cores on fp32; the default engine (auto: int8) costs x0.586 the CPU per
    # image (evision bench, 2026-12-06, see WorkerSpeed) -> 170 / 0.586 ~ 290. On the local
    # backend a batch's own calls take ~1 ms.
    speed=WorkerSpeed(images_per_second=290.0, round_trip=0.01),
    # The supervisor reads the SQLite queue's depth itself, every period, with no delay.
    metrics=Metrics(sqs_resolution=1.0, sqs_lag=0.0, custom_resolution=1.0, custom_lag=0.0),
    prices=Prices(minimum_billed_seconds=0.0),
    billed=False,
)

# The bare fp32 model's speed (evision bench, 2 threads, batch 4) in the run LOCAL's fp32 figure
# was measured in: `local_on_this_machine` scales by today's bare fp32 against it.
LOCAL_BARE_IMAGES_PER_SECOND = 175.9


def local_on_this_machine(bare_images_per_second: float) -> Calibration:
    """LOCAL scaled to a machine whose bare model runs at `bare_images_per_second` (a shared
    machine's speed moves by 2x from day to day): workers' speed and their start, in proportion."""
    ratio = bare_images_per_second / LOCAL_BARE_IMAGES_PER_SECOND
    phases = replace(
        LOCAL.phases, model_load=LOCAL.phases.model_load / ratio, warm_start=LOCAL.phases.warm_start / ratio
    )
    speed = replace(LOCAL.speed, images_per_second=LOCAL.speed.images_per_second * ratio)
    return replace(LOCAL, phases=phases, speed=speed)
