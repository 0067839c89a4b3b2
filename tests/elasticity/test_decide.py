"""decide() over metric series: what the cloud alarms and the local supervisor will do."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from services.elasticity.policy import (
    Decision,
    Sample,
    ScalingPolicy,
    ScalingState,
    Step,
    decide,
    replay,
)

# The defaults' step table and 2 of 3, with the period counts these series were written for
# (idle K=5, warm-up 3); the decide() rules do not depend on the default counts. Actions may re-run
# every period here (as locally); the once-a-minute re-invocation has its own tests below.
POLICY = replace(ScalingPolicy(), scale_in_idle_periods=5, warmup_periods=3, reinvoke_seconds=10.0)
CLOUD_POLICY = replace(POLICY, reinvoke_seconds=60.0)


def visible(*counts: int, in_flight: int = 0) -> list[Sample]:
    return [Sample(visible=n, in_flight=in_flight) for n in counts]


def desired(decisions: list[Decision]) -> list[int]:
    return [d.desired for d in decisions]


def reversals(capacities: list[int]) -> int:
    """How often the capacity changes direction (up then down or down then up)."""
    moves = [b - a for a, b in itertools.pairwise(capacities) if b != a]
    return sum(1 for a, b in itertools.pairwise(moves) if (a > 0) != (b > 0))


def trickle(periods: int) -> list[Sample]:
    """A load one worker keeps up with: a few messages visible at sample time, some in flight."""
    return [Sample(visible=(7 * i) % 40, in_flight=1 + i % 8) for i in range(periods)]


# --- scale from zero ---------------------------------------------------------------------------


def test_first_message_starts_one_worker_in_the_same_period():
    decision = decide(POLICY, visible(0, 0, 1), current=0)
    assert decision.desired == 1
    assert "zero" in decision.reason


def test_an_empty_queue_at_zero_stays_at_zero():
    assert desired(replay(POLICY, visible(0, 0, 0, 0, 0, 0, 0), current=0)) == [0] * 7


def test_scale_from_zero_target_follows_the_policy():
    assert decide(replace(POLICY, scale_from_zero_to=3), visible(1), current=0).desired == 3


# --- trickle -----------------------------------------------------------------------------------


def test_trickle_that_one_worker_keeps_up_with_stays_at_one_worker():
    capacities = desired(replay(POLICY, trickle(300), current=0))
    assert capacities[1:] == [1] * 299  # first sample has 0 visible; then one worker, never more


def test_a_step_at_one_message_would_ratchet_the_same_trickle_to_max():
    # Why the policy has a separate scale-from-zero rule: with a first step at >= 1 visible message,
    # the alarm stays in ALARM under a trickle and adds capacity again after every warm-up.
    naive = replace(POLICY, scale_out_steps=(Step(lower=1, upper=None, change=1),))
    assert max(desired(replay(naive, trickle(300), current=0))) == naive.max_capacity


# --- burst -------------------------------------------------------------------------------------


def test_burst_scales_from_zero_then_by_steps_respecting_warmup_up_to_max():
    capacities = desired(replay(POLICY, visible(0, *[30000] * 30), current=0))
    # 0: idle; 1: first message -> 1; 2: 2 of 3 breaching, step +6 counts the warming worker
    # (1 - 1 + 6 = 6); 3: same step while all warm up -> hold; 4: the first worker has warmed up,
    # so 6 - 5 + 6 = 7; 5: 7 - 1 + 6 = 12; and so on.
    assert capacities[:7] == [0, 1, 6, 6, 7, 12, 12]
    assert capacities == sorted(capacities)
    assert max(capacities) == POLICY.max_capacity
    assert capacities[-1] == POLICY.max_capacity


def test_in_the_cloud_an_alarm_held_in_alarm_acts_again_only_after_a_minute():
    # Same burst with AWS's re-invocation: +1 from zero, +6 on entering ALARM (period 2), then the
    # action runs again only at period 8 (60 s at 10 s periods), whatever the warm-up says.
    capacities = desired(replay(CLOUD_POLICY, visible(0, *[30000] * 30), current=0))
    changes = [i for i, (a, b) in enumerate(itertools.pairwise(capacities), 1) if b != a]
    assert changes[:3] == [1, 2, 8]
    assert all(b - a >= CLOUD_POLICY.reinvoke_periods for a, b in itertools.pairwise(changes[1:]))
    assert capacities[-1] == CLOUD_POLICY.max_capacity


def test_an_alarm_that_leaves_alarm_acts_at_once_when_it_enters_again():
    # 2 of 3 breaching at periods 1-2, then OK, then ALARM again: the action runs on each entry.
    series = visible(1500, 1500, 0, 0, 0, 1500, 1500)
    decisions = replay(CLOUD_POLICY, series, current=2)
    assert [d.desired for d in decisions] == [2, 3, 3, 3, 3, 3, 4]


def test_scale_out_needs_m_of_n_breaching_periods():
    assert decide(POLICY, visible(1500), current=2).desired == 2  # 1 of 1 so far
    assert decide(POLICY, visible(1500, 0, 1500), current=2).desired == 3  # 2 of 3
    assert decide(POLICY, visible(1500, 0, 0, 1500), current=2).desired == 2  # 1 of last 3


def test_the_latest_sample_selects_the_step():
    assert decide(POLICY, visible(1500, 1500), current=2).desired == 3
    assert decide(POLICY, visible(1500, 6000), current=2).desired == 5
    assert decide(POLICY, visible(1500, 25000), current=2).desired == 8


def test_below_the_first_step_nothing_happens_even_under_load():
    assert decide(POLICY, visible(999, 999, 999, in_flight=50), current=2).desired == 2


# --- warm-up -----------------------------------------------------------------------------------


def test_same_step_waits_for_warmup_and_a_higher_step_adds_only_the_difference():
    out = decide(POLICY, visible(1500, 1500), current=1)
    assert out.desired == 2
    # Same step during warm-up: the warming worker already is that step's +1.
    state, current = out.state, out.desired
    history = visible(1500, 1500)
    for _ in range(POLICY.warmup_periods - 1):
        history.append(Sample(1500, 0))
        held = decide(POLICY, history, current, state)
        assert held.desired == current, held.reason
        state = held.state
    history.append(Sample(1500, 0))
    assert decide(POLICY, history, current, state).desired == 3  # warm-up over: +1 again
    # A higher step during warm-up: +3 minus the 1 already warming.
    assert decide(POLICY, visible(1500, 6000), current=2, state=out.state).desired == 4


def test_without_warmup_every_breaching_period_adds():
    no_warmup = replace(POLICY, warmup_periods=0)
    assert desired(replay(no_warmup, visible(1500, 1500, 1500, 1500), current=1)) == [1, 2, 3, 4]


def test_state_forgets_finished_warmups():
    state = ScalingState().next_period(3, added=2)
    assert state.warming_capacity(3) == 2
    state = state.next_period(3).next_period(3)
    assert state == ScalingState()


# --- idle / scale in ---------------------------------------------------------------------------


def test_scale_in_after_exactly_k_idle_periods_not_before():
    series = visible(3000, 3000, 200, 0, 0, 0, 0, 0, 0)
    capacities = desired(replay(POLICY, series, current=4))
    idle_from = 3  # index of the first idle sample
    k = POLICY.scale_in_idle_periods
    assert capacities[idle_from : idle_from + k - 1] == [capacities[idle_from]] * (k - 1)
    assert capacities[idle_from + k - 1] == 0
    assert capacities[idle_from + k - 1 :] == [0] * (len(series) - idle_from - k + 1)


def test_in_flight_work_blocks_scale_in():
    busy_but_empty = visible(*[0] * 20, in_flight=3)
    assert desired(replay(POLICY, busy_but_empty, current=2)) == [2] * 20


def test_one_busy_period_restarts_the_idle_count():
    k = POLICY.scale_in_idle_periods
    series = [*visible(*[0] * (k - 1)), Sample(0, 1), *visible(*[0] * k)]
    capacities = desired(replay(POLICY, series, current=3))
    assert capacities[: 2 * k - 1] == [3] * (2 * k - 1)
    assert capacities[-1] == 0


def test_scale_in_waits_for_warmup_to_finish():
    slow = replace(POLICY, scale_in_idle_periods=2, warmup_periods=4)
    # A single message starts a worker, then the queue is idle: 2 idle periods would suffice,
    # but the worker is still warming up (EC2 blocks scale-in meanwhile).
    capacities = desired(replay(slow, visible(1, 0, 0, 0, 0, 0), current=0))
    assert capacities == [1, 1, 1, 1, 0, 0]


def test_scale_in_goes_to_the_exact_idle_capacity():
    policy = replace(POLICY, min_capacity=1, scale_in_to=2)
    assert decide(policy, visible(0, 0, 0, 0, 0), current=7).desired == 2
    assert decide(replace(POLICY, min_capacity=1), visible(0, 0, 0, 0, 0), current=7).desired == 1


# --- flapping ----------------------------------------------------------------------------------


def test_flapping_backlog_never_oscillates():
    # Busy and idle periods alternate: idle runs are shorter than K, so nothing scales in, and
    # scale-outs wait for warm-up. Capacity only ever grows while the load flaps.
    flapping = [Sample(1500, 40) if i % 2 else Sample(0, 0) for i in range(60)]
    capacities = desired(replay(POLICY, flapping, current=1))
    assert capacities == sorted(capacities)
    assert reversals(capacities) == 0


def test_flapping_around_idle_holds_one_worker():
    k = POLICY.scale_in_idle_periods
    one_message_now_and_then = [Sample(1, 0) if i % k == k - 1 else Sample(0, 0) for i in range(100)]
    capacities = desired(replay(POLICY, one_message_now_and_then, current=1))
    assert capacities == [1] * 100


def test_flapping_around_the_threshold_then_idle_scales_in_once():
    series = [Sample(900 + 200 * (i % 2), 30) for i in range(20)] + visible(*[0] * 10)
    capacities = desired(replay(POLICY, series, current=1))
    assert reversals(capacities) <= 1
    assert capacities[-1] == 0


# --- clamps ------------------------------------------------------------------------------------


def test_max_clamp():
    small = replace(POLICY, max_capacity=5)
    capacities = desired(replay(small, visible(*[50000] * 20), current=0))
    assert max(capacities) == 5
    assert capacities[-1] == 5
    assert "clamped" in decide(small, visible(50000, 50000), current=4).reason


def test_min_clamp_and_capacity_outside_the_range():
    floor = replace(POLICY, min_capacity=2)
    assert decide(floor, visible(0, 0, 0, 0, 0, 0), current=2).desired == 2  # idle: stays at min
    assert decide(floor, [], current=0).desired == 2
    assert decide(POLICY, visible(0), current=25).desired == 20


# --- the policy object -------------------------------------------------------------------------


def test_local_policy_keeps_the_rule_and_shortens_the_period():
    local = POLICY.local(cpu_count=2)
    assert local.period_seconds == 1.0
    assert local.max_capacity == 2
    assert local.scale_out_steps == POLICY.scale_out_steps
    assert local.scale_in_idle_periods == POLICY.scale_in_idle_periods
    assert POLICY.local(max_capacity=64).max_capacity == POLICY.max_capacity  # capped by the policy
    assert POLICY.local(period_seconds=2.0, max_capacity=3).period_seconds == 2.0


@pytest.mark.parametrize(
    "changes",
    [
        {"min_capacity": 5, "max_capacity": 4},
        {"scale_out_steps": ()},
        {"scale_out_steps": (Step(0, None, 1),)},
        {"scale_out_steps": (Step(10, 20, 1), Step(30, None, 2))},
        {"scale_out_steps": (Step(10, 20, 1),)},
        {"scale_out_steps": (Step(10, None, 0),)},
        {"scale_out_datapoints_to_alarm": 4},
        {"scale_in_idle_periods": 0},
        {"scale_in_to": 30},
        {"period_seconds": 0},
    ],
)
def test_invalid_policies_are_rejected_with_a_reason(changes):
    with pytest.raises(ValueError, match="invalid scaling policy"):
        replace(POLICY, **changes)
