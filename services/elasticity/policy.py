"""The ONE elasticity rule of the worker tier, as data, and the pure function that applies it.

Three consumers read the same `ScalingPolicy` object: `infra/scaling.py` renders it as CloudWatch
alarms + EC2 Auto Scaling step policies, the local supervisor feeds `decide()` with the local
queue's depth, and tests/simulators feed `decide()` with metric series. `decide()` models what the
alarms and step policies do in AWS, so the local tier behaves like the cloud one.

The rules (each is one alarm + one policy in the cloud)
- Scale from zero: capacity is 0 and the latest sample has >= 1 visible message -> capacity
  `scale_from_zero_to`. One datapoint, so the first message starts a worker. In CloudWatch this is a
  metric-math alarm `IF(GroupDesiredCapacity < 1, visible, 0) >= 1`; it cannot fire once the group
  has capacity, which is what keeps a trickle from ratcheting capacity up (see below).
- Scale out: visible messages >= the first step's lower bound in `scale_out_datapoints_to_alarm` of
  the last `scale_out_evaluation_periods` periods -> add the change of the step the latest
  sample falls in. While earlier scale-outs are warming up (`warmup_periods`), the capacity they
  added counts towards the new step (EC2 step-scaling semantics): the same step again adds
  nothing, a higher step adds only the difference.
- Scale in: visible + in-flight == 0 in each of the last `scale_in_idle_periods` (K) periods ->
  exact capacity `scale_in_to` (normally the minimum). In-flight work blocks it, so a worker is
  never told to stop while a batch is being processed; so does a warm-up in progress (as in EC2).
- Everything is clamped to [min_capacity, max_capacity]; when several rules fire, the one giving
  the largest capacity wins (what EC2 Auto Scaling does with simultaneous policies).

Why not a step at ">= 1 visible message"
An Auto Scaling alarm action runs again while the alarm stays in ALARM. With a step
at >= 1 message (needed to start from zero), a steady trickle that one worker keeps up with
still shows a few visible messages at most sample times, so capacity would grow by one after
every warm-up up to the maximum - in AWS as much as locally. The "from zero" rule handles the first
message; the scale-out steps start at a backlog that one worker could NOT clear within the
acceptable delay. Visible messages (not in-flight) measure backlog rather than load: when the
workers keep up, messages are received as they arrive and the visible count stays near zero.

Why these defaults (the values are the fields of `ScalingPolicy` and `DEFAULT_SCALE_OUT_STEPS`;
this says how they were reasoned, not what they are)
- The first scale-out step starts at the backlog one worker clears within the delay a synchronous
  upload can accept (the worker's images/s, `simulator/calibration.py`, times a few seconds), so
  a backlog the running workers clear on their own never adds one. Larger backlogs (tens of
  seconds, then minutes, of one worker's work) add more at once, so an overload reaches
  `max_capacity` within a few periods.
- CDK's QueueProcessingService defaults ([<=0: -1], [>=100: +1], [>=500: +5]) on a 5-minute
  Maximum would add an instance for 100 messages, i.e. < 1 s of work for one worker - gone long
  before a new instance has booted (1-3 min). Its scale-in ([<=0: -1]) looks at visible messages
  only, so it removes workers that are still busy, and shrinks one instance at a time.
- Known limit: the steps are on the raw visible count, not divided by capacity (CloudWatch can
  do that with metric math). With the warm-up accounting and visible ~= 0 whenever the workers
  keep up, a sustained backlog past the first step means they do not, which is when adding is right.
- `scale_out_datapoints_to_alarm` of `scale_out_evaluation_periods`: a backlog seen at two sample
  times persisted for at least a period, so it is not a blip the running workers clear.
- `warmup_periods` spans the start of a warm-pool instance at the cloud's period; scale-in after
  `scale_in_idle_periods` idle periods: cheap, because idle instances go back to the warm pool
  (Stopped), long enough to span the gaps of a flapping load, short enough to reach 0 soon after
  the queue drains. The SQS 1-minute backstop applies the same counts at its own period.
- Alarms as AWS runs them: an Auto Scaling action runs when its alarm enters ALARM, then about
  once a minute while it stays there, whatever the period (simulator/controllers.py,
  `REINVOKE_SECONDS`). The steps are sized for that: `warmup_periods` at the cloud's period spans
  that minute, so the capacity a step added counts towards the next until the action can run
  again, and each step adds what a minute of that backlog needs (the same figures come out with
  or without the once-a-minute rule; tests/elasticity/test_alarm_semantics.py). The backstop's
  metric math fills SQS's late datapoints before IF, which would make them 0, i.e. "idle" to the
  scale-in rule (alarms.py, metric_math.py).
Locally the same step table and period counts apply with a shorter period (`ScalingPolicy.local`);
the supervisor calls `decide()` every period (no alarm service in between).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

from services.ports.storage import QueueDepth

# A sample is the queue depth seen at the end of one period: the same type `MessageQueue.depth()`
# returns, so a live sampler can append `queue.depth()` to a deque and call `decide()`.
Sample = QueueDepth


@dataclass(frozen=True, slots=True)
class Step:
    """Visible messages in [lower, upper) add `change` capacity units (upper None: no bound)."""

    lower: int
    upper: int | None
    change: int

    def contains(self, visible: int) -> bool:
        return visible >= self.lower and (self.upper is None or visible < self.upper)


DEFAULT_SCALE_OUT_STEPS: tuple[Step, ...] = (
    Step(lower=1000, upper=5000, change=1),
    Step(lower=5000, upper=20000, change=3),
    Step(lower=20000, upper=None, change=6),
)


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """The scaling rule; see the module docstring for what each field means and why."""

    min_capacity: int = 0
    max_capacity: int = 20
    scale_from_zero_to: int = 1
    scale_out_steps: tuple[Step, ...] = DEFAULT_SCALE_OUT_STEPS
    scale_out_evaluation_periods: int = 3
    scale_out_datapoints_to_alarm: int = 2
    scale_in_idle_periods: int = 4
    scale_in_to: int | None = None  # exact capacity when idle; None means min_capacity
    warmup_periods: int = 6
    # Cloud: the fast path samples the web tier's high-resolution depth metric every 10 s
    # (CloudWatch high-resolution alarms take 10 s periods); SQS's own 1-minute metrics drive the
    # same rules as the backstop (`backstop_period_seconds`). Locally `local()` sets 1 s.
    period_seconds: float = 10.0
    backstop_period_seconds: float = 60.0
    # While an alarm stays in ALARM, Auto Scaling re-runs its action about once a minute (re:Post
    # knowledge center, "autoscaling policy cloudwatch alarm"). Locally `local()` sets the period:
    # the supervisor is the alarm and acts every period.
    reinvoke_seconds: float = 60.0

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def scale_out_threshold(self) -> int:
        """Visible messages at which the scale-out alarm fires."""
        return self.scale_out_steps[0].lower

    @property
    def reinvoke_periods(self) -> int:
        """Periods between two runs of an action whose alarm stays in ALARM."""
        return max(1, round(self.reinvoke_seconds / self.period_seconds))

    @property
    def idle_capacity(self) -> int:
        return self.min_capacity if self.scale_in_to is None else self.scale_in_to

    @property
    def history_periods(self) -> int:
        """How many recent samples `decide()` looks at (size a sampler's deque with this)."""
        return max(self.scale_out_evaluation_periods, self.scale_in_idle_periods, 1)

    def clamp(self, capacity: int) -> int:
        return max(self.min_capacity, min(self.max_capacity, capacity))

    def step_for(self, visible: int) -> Step | None:
        return next((step for step in self.scale_out_steps if step.contains(visible)), None)

    def local(
        self, *, period_seconds: float = 1.0, max_capacity: int | None = None, cpu_count: int | None = None
    ) -> ScalingPolicy:
        """The same rule for local worker processes: a shorter period, at most one worker per core.

        Step table and period counts are kept, so a change to the policy moves both tiers.
        """
        cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
        local_max = min(self.max_capacity, max_capacity if max_capacity is not None else cores)
        local_max = max(local_max, self.min_capacity, 1)
        scale_in_to = None if self.scale_in_to is None else min(self.scale_in_to, local_max)
        return replace(
            self,
            period_seconds=period_seconds,
            reinvoke_seconds=period_seconds,
            max_capacity=local_max,
            scale_from_zero_to=min(self.scale_from_zero_to, local_max),
            scale_in_to=scale_in_to,
        )


def _validate(policy: ScalingPolicy) -> None:
    problems: list[str] = []
    if not 0 <= policy.min_capacity <= policy.max_capacity:
        problems.append(
            f"need 0 <= min_capacity <= max_capacity, got {policy.min_capacity}..{policy.max_capacity}"
        )
    if policy.max_capacity < 1:
        problems.append("max_capacity must be >= 1")
    if not 1 <= policy.scale_from_zero_to <= policy.max_capacity:
        problems.append("scale_from_zero_to must be in [1, max_capacity]")
    if not policy.scale_out_steps:
        problems.append("scale_out_steps must not be empty")
    else:
        steps = policy.scale_out_steps
        if steps[0].lower < 1:
            problems.append("the first scale-out step must start at >= 1 visible message")
        for before, after in pairwise(steps):
            if before.upper != after.lower:
                problems.append(f"steps must be contiguous: {before} then {after}")
        if steps[-1].upper is not None:
            problems.append("the last scale-out step must be unbounded (upper=None)")
        for step in steps:
            if step.change < 1 or (step.upper is not None and step.upper <= step.lower):
                problems.append(f"bad step {step}: need lower < upper and change >= 1")
    if not 1 <= policy.scale_out_datapoints_to_alarm <= policy.scale_out_evaluation_periods:
        problems.append("need 1 <= scale_out_datapoints_to_alarm <= scale_out_evaluation_periods")
    if policy.scale_in_idle_periods < 1:
        problems.append("scale_in_idle_periods must be >= 1")
    if not policy.min_capacity <= policy.idle_capacity <= policy.max_capacity:
        problems.append("scale_in_to must be in [min_capacity, max_capacity]")
    if policy.warmup_periods < 0:
        problems.append("warmup_periods must be >= 0")
    if policy.period_seconds <= 0:
        problems.append("period_seconds must be > 0")
    if policy.backstop_period_seconds < policy.period_seconds:
        problems.append("backstop_period_seconds must be >= period_seconds")
    if problems:
        raise ValueError("invalid scaling policy: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class ScalingState:
    """What `decide()` remembers between periods: recent scale-outs still warming up, and how long
    ago each alarm's action last ran while the alarm stayed in ALARM.

    `warming` holds (periods ago, capacity added), newest first. `out_acted` / `in_acted`: periods
    since the scale-out / scale-in action ran, None while that alarm is not in ALARM. Start with
    `ScalingState()` and pass each `Decision.state` to the next call (one call per period).
    """

    warming: tuple[tuple[int, int], ...] = ()
    out_acted: int | None = None
    in_acted: int | None = None

    def warming_capacity(self, warmup_periods: int) -> int:
        return sum(added for age, added in self.warming if age < warmup_periods)

    def next_period(
        self,
        warmup_periods: int,
        added: int = 0,
        *,
        out_acted: int | None = None,
        in_acted: int | None = None,
    ) -> ScalingState:
        """The state as seen one period later, after adding `added` capacity now."""
        entries = (((0, added),) if added > 0 else ()) + self.warming
        warming = tuple((age + 1, n) for age, n in entries if age + 1 < warmup_periods)
        return ScalingState(warming, _older(out_acted), _older(in_acted))


def _older(acted: int | None) -> int | None:
    return None if acted is None else acted + 1


def _action_due(in_alarm: bool, acted: int | None, reinvoke_periods: int) -> tuple[bool, int | None]:
    """(whether the alarm's action runs now, periods since it ran as of now)."""
    if not in_alarm:
        return False, None
    if acted is None or acted >= reinvoke_periods:  # entering ALARM, or a minute since the last run
        return True, 0
    return False, acted


@dataclass(frozen=True, slots=True)
class Decision:
    desired: int
    reason: str
    state: ScalingState = field(default_factory=ScalingState)

    def changed(self, current: int) -> bool:
        return self.desired != current


def decide(
    policy: ScalingPolicy,
    samples: Sequence[Sample],
    current: int,
    state: ScalingState | None = None,
) -> Decision:
    """The capacity the group should have after this period.

    `samples` are the most recent period samples, oldest first (at least the last
    `policy.history_periods` are used; fewer means the alarms lack datapoints, as after a start).
    `current` is the desired capacity now, including workers still starting.
    """
    state = state or ScalingState()
    samples = tuple(samples)[-policy.history_periods :]  # also accepts a deque (no slicing)
    warming = min(state.warming_capacity(policy.warmup_periods), max(current, 0))
    # (target, reason) of every rule that fires; the largest target wins.
    candidates: list[tuple[int, str]] = []
    latest = samples[-1] if samples else None

    if latest is not None and current == 0 and latest.visible >= 1:
        candidates.append((policy.scale_from_zero_to, f"scale from zero: {latest.visible} visible"))

    recent = samples[-policy.scale_out_evaluation_periods :]
    breaching = sum(1 for s in recent if s.visible >= policy.scale_out_threshold)
    out_alarm = latest is not None and breaching >= policy.scale_out_datapoints_to_alarm
    out_due, out_acted = _action_due(out_alarm, state.out_acted, policy.reinvoke_periods)
    if latest is not None and out_due:
        step = policy.step_for(latest.visible)
        if step is not None:
            target = current - warming + step.change
            if target > current:
                candidates.append(
                    (target, f"scale out: {latest.visible} visible, step +{step.change} ({warming} warming)")
                )

    idle = samples[-policy.scale_in_idle_periods :]
    idle_for_k = len(idle) == policy.scale_in_idle_periods and all(s.outstanding == 0 for s in idle)
    # EC2 Auto Scaling blocks dynamic scale-in while new instances are still warming up.
    blocked_by_warmup = warming > 0 and policy.idle_capacity < current
    in_due, in_acted = _action_due(idle_for_k, state.in_acted, policy.reinvoke_periods)
    if in_due and policy.idle_capacity != current and not blocked_by_warmup:
        candidates.append(
            (policy.idle_capacity, f"scale in: idle for {policy.scale_in_idle_periods} periods")
        )

    if not candidates:
        desired = policy.clamp(current)
        reason = "hold" if desired == current else f"clamp to [{policy.min_capacity}, {policy.max_capacity}]"
        return Decision(
            desired, reason, state.next_period(policy.warmup_periods, out_acted=out_acted, in_acted=in_acted)
        )

    target, reason = max(candidates, key=lambda candidate: candidate[0])
    desired = policy.clamp(target)
    if desired != target:
        reason += f" (clamped to [{policy.min_capacity}, {policy.max_capacity}])"
    if desired < current:  # instances (and their warm-up) are gone
        return Decision(desired, reason, ScalingState(out_acted=_older(out_acted), in_acted=_older(in_acted)))
    later = state.next_period(
        policy.warmup_periods, added=desired - current, out_acted=out_acted, in_acted=in_acted
    )
    return Decision(desired, reason, later)


def replay(
    policy: ScalingPolicy, series: Iterable[Sample], current: int = 0, state: ScalingState | None = None
) -> list[Decision]:
    """`decide()` over a metric series, one call per period, as a sampler loop would call it.

    Open loop: the series is taken as given (capacity does not drain it), which is how CloudWatch
    alarms see recorded metrics. Returns one decision per sample.
    """
    history: deque[Sample] = deque(maxlen=policy.history_periods)
    decisions: list[Decision] = []
    for sample in series:
        history.append(sample)
        decision = decide(policy, history, current, state)
        decisions.append(decision)
        current, state = decision.desired, decision.state
    return decisions
