"""What decides the desired capacity in a simulated run.

- `AlarmController`: CloudWatch alarms + EC2 Auto Scaling step policies, as `infra/scaling.py`
  renders them, evaluated on a metric series with its resolution and lag. Fed with
  `alarm_rules(policy)` it is the deployed stack; fed with other rules, any CloudWatch recipe.
- `SupervisorController`: the local supervisor: `decide()` of the ONE policy on the queue depth
  read every period.
- `SeedController`: the seeds' custom controller: poll the queue every few seconds, one new
  instance per waiting message up to the maximum; instances terminate themselves when idle.

EC2 step-scaling semantics (AWS Auto Scaling user guide, "Step and simple scaling policies"):
an alarm's action runs when it enters ALARM, then again about once a minute while it stays
there, whatever the alarm's period (re:Post knowledge center, "autoscaling policy cloudwatch
alarm"; FIELD-NOTES, 2026-12: `REINVOKE_SECONDS`); while instances
added by a scale-out are warming up, their capacity counts towards the next step (the same step
again adds nothing, a higher step only the difference) and dynamic scale-in waits; when several
policies fire at once, the one giving the largest capacity wins.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.elasticity.alarms import AlarmRule
from services.elasticity.policy import ScalingPolicy, ScalingState, decide
from services.elasticity.simulator.world import Controller, World
from services.ports.storage import QueueDepth


def step_target(rule: AlarmRule, value: float, current: int, warming: int) -> int | None:
    """The capacity this rule's action asks for at metric `value`, or None for no change."""
    step = rule.adjustment_for(value)
    if step is None:
        return None
    if rule.adjustment_type == "ExactCapacity":
        target = step.change
    elif step.change > 0:
        target = current - warming + step.change
        return target if target > current else None
    else:
        target = current + step.change
    if target < current and warming > 0:
        return None  # dynamic scale-in waits for the warm-up
    return target if target != current else None


# While an alarm stays in ALARM, Auto Scaling re-invokes its action about once a minute.
REINVOKE_SECONDS = 60.0


@dataclass
class AlarmController(Controller):
    """Alarms on the world's metric series (`rule_sets`: series name -> the rules reading it).

    A rule is evaluated every min(its period, 60) s, as CloudWatch evaluates alarms; `period` is
    the finest of those. With `activate_to`, an upload while the group is at zero raises the
    desired capacity at once (the web tier's activation; at most once per `activation_interval`).
    """

    rule_sets: dict[str, Sequence[AlarmRule]]
    period: float = 60.0
    first_tick: float = 0.0
    activate_to: int | None = None
    activation_delay: float = 1.0
    activation_interval: float = 10.0
    # The web tier puts a datapoint at once when an upload arrives after an idle sample, so the
    # fast scale-in alarm cannot undo an activation with stale idle periods.
    nudge_series: str | None = None
    # source -> the source whose presence mutes it: the backstop acts only for periods in which
    # the web tier's metric has no datapoint (`AlarmRule.gated`, as infra renders it).
    gates: dict[str, str] = field(default_factory=dict)
    alarm_states: dict[str, bool] = field(default_factory=dict)
    acted_at: dict[str, float] = field(default_factory=dict)  # rule -> its action's last run
    _last_activation: float = float("-inf")

    def tick(self, world: World, now: float) -> None:
        warming = world.warming_capacity(now)
        current = world.desired
        wanted: list[tuple[int, AlarmRule]] = []
        for source, rules in self.rule_sets.items():
            series = world.series[source]
            for rule in rules:
                every = min(rule.period_seconds, 60.0)
                if abs(now / every - round(now / every)) > 1e-6:
                    continue  # not this rule's evaluation time
                values = series.period_maxima(rule.metric, rule.period_seconds, now, rule.evaluation_periods)
                if source in self.gates:
                    web = world.series[self.gates[source]].period_maxima(
                        "visible", rule.period_seconds, now, rule.evaluation_periods
                    )
                    values = rule.gated(values, web)
                present = [v for v in values if v is not None]
                breaching = sum(1 for v in present if rule.breaches(v))
                in_alarm = breaching >= rule.datapoints_to_alarm
                entered = in_alarm and not self.alarm_states.get(rule.name, False)
                self.alarm_states[rule.name] = in_alarm
                due = entered or now - self.acted_at.get(rule.name, float("-inf")) >= REINVOKE_SECONDS - 1e-6
                if in_alarm and present and due:
                    self.acted_at[rule.name] = now
                    target = step_target(rule, present[-1], current, min(warming, current))
                    if target is not None:
                        wanted.append((target, rule))
        if wanted:
            target, rule = max(wanted, key=lambda item: item[0])
            world.set_desired(target, f"{rule.name} alarm", warmup=rule.warmup_seconds)

    def on_arrival(self, world: World, now: float) -> None:
        if self.nudge_series is not None and world.series[self.nudge_series].last_idle:
            world.series[self.nudge_series].record(
                now, visible=len(world.queue), in_flight=world.in_flight, desired=world.desired
            )
        if self.activate_to is None or world.desired > 0:
            return
        if now - self._last_activation < self.activation_interval:
            return
        self._last_activation = now
        target = self.activate_to

        def activate(_: float) -> None:
            if world.desired == 0:  # SetDesiredCapacity only from zero, never above max
                world.set_desired(target, "activation from zero (web tier)")

        world.at(now + self.activation_delay, activate)


@dataclass
class SupervisorController(Controller):
    """`evision up`'s supervisor: `decide()` on the depth it reads itself every period."""

    policy: ScalingPolicy
    period: float = 1.0
    first_tick: float = 0.0
    history: deque[QueueDepth] = field(default_factory=deque)
    state: ScalingState = field(default_factory=ScalingState)

    def __post_init__(self) -> None:
        self.period = self.policy.period_seconds
        self.history = deque(maxlen=self.policy.history_periods)

    def tick(self, world: World, now: float) -> None:
        self.history.append(QueueDepth(visible=len(world.queue), in_flight=world.in_flight))
        decision = decide(self.policy, self.history, world.desired, self.state)
        self.state = decision.state
        world.set_desired(decision.desired, decision.reason)


@dataclass
class SeedController(Controller):
    """Poll every `period` s; start one instance per waiting message not yet covered, up to max."""

    period: float = 5.0
    first_tick: float = 0.0

    def tick(self, world: World, now: float) -> None:
        starting = sum(1 for i in world.live() if not i.in_service)
        wanted = world.live_capacity() + max(0, len(world.queue) - starting)
        if wanted > world.desired:
            world.set_desired(wanted, f"{len(world.queue)} waiting, {starting} starting")
