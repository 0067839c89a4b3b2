"""The figures of one simulated run, from its world after `run()`."""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, Field

from services.elasticity.simulator.bill import Bill, fixed_items, usage_items
from services.elasticity.simulator.world import World


class RunResult(BaseModel):
    preset: str
    workload: str
    uploads: int
    answered: int
    still_queued: int = Field(
        description="not answered when the run ended (conservation: answered + this = uploads)"
    )
    first_answer_s: float | None = Field(description="the earliest answer's latency")
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_max_s: float | None
    time_to_last_answer_s: float | None = Field(description="first upload to last answer")
    answered_202: int = Field(
        description="uploads whose answer came after the web wait (HTTP 202, then poll)"
    )
    answered_by_standby: int = Field(description="uploads answered by the web tier's standby workers")
    peak_instances: int
    instance_seconds: float = Field(description="billed worker instance-seconds")
    worker_cost_usd: float = Field(description="the workers' instance-seconds")
    bill_usd: dict[str, float] = Field(
        description="the simulated span's bill by category (bill.py): compute, storage, load "
        "balancer, public IPv4, CloudWatch, requests"
    )
    cost_usd: float = Field(description="the whole bill of the simulated span")
    back_to_min_after_last_answer_s: float | None = Field(
        description="last answer until capacity is back at its minimum"
    )
    simulated_s: float


def summarize(preset: str, world: World) -> RunResult:
    calibration = world.calibration
    arrivals = world.workload.arrivals
    done = ~np.isnan(world.answered_at)
    latencies = world.answered_at[done] - arrivals[done]
    prices = calibration.prices
    now = world.now
    billed = sum(
        i.billed_seconds(prices.minimum_billed_seconds, now) for i in [*world.instances, *world.preparing]
    )
    bill = run_bill(world, billed)
    worker_cost = (
        billed * prices.instance_second(calibration.worker_instance_type) if calibration.billed else 0.0
    )
    last_answer = float(np.max(world.answered_at[done])) if done.any() else None
    peak = max((p.in_service for p in world.timeline), default=0)
    peak = max(peak, max(_live_peak(world), 0))

    def stat(values: np.ndarray, q: float) -> float | None:
        return round(float(np.quantile(values, q)), 2) if len(values) else None

    return RunResult(
        preset=preset,
        workload=world.workload.name,
        uploads=len(arrivals),
        answered=int(done.sum()),
        still_queued=int((~done).sum()),
        first_answer_s=stat(latencies, 0.0),
        latency_p50_s=stat(latencies, 0.5),
        latency_p95_s=stat(latencies, 0.95),
        latency_max_s=stat(latencies, 1.0),
        time_to_last_answer_s=None if last_answer is None else round(last_answer - float(arrivals[0]), 2),
        # A job's images have no client waiting on the web tier: no 202s.
        answered_202=0 if world.workload.job else int(np.sum(latencies > calibration.wait_seconds)),
        answered_by_standby=world.standby_answered(),
        peak_instances=peak,
        instance_seconds=round(billed, 1),
        worker_cost_usd=round(worker_cost, 4),
        bill_usd={category: round(usd, 4) for category, usd in bill.by_category().items()},
        cost_usd=round(bill.total, 4),
        back_to_min_after_last_answer_s=None
        if last_answer is None
        else _back_to_min_after(world, last_answer),
        simulated_s=round(now, 1),
    )


def run_bill(world: World, worker_seconds: float) -> Bill:
    """The simulated span's bill: the fixed part for its length, the workers' seconds, its uploads."""
    calibration = world.calibration
    if not calibration.billed:
        return Bill("not billed", ())
    deployment = calibration.deployment
    items = fixed_items(world.now, deployment, calibration) + usage_items(
        len(world.workload.arrivals), worker_seconds, deployment, calibration, job=world.workload.job
    )
    return Bill(f"{world.workload.name}: {world.now:,.0f} s simulated", tuple(items))


def _back_to_min_after(world: World, t: float) -> float | None:
    """Seconds from `t` until the live capacity is back at the group's minimum (None: never)."""
    changes = sorted(
        [(i.launched, 1) for i in world.instances]
        + [(i.ended, -1) for i in world.instances if i.ended is not None]
    )
    live = 0
    at_min_since: float | None = 0.0 if world.min_capacity == 0 else None
    for when, change in changes:
        live += change
        if live == world.min_capacity and at_min_since is None:
            at_min_since = when
        elif live != world.min_capacity:
            at_min_since = None
    if at_min_since is None:
        return None
    return round(max(0.0, at_min_since - t), 2)


def _live_peak(world: World) -> int:
    """Most instances alive (starting or in service) at once."""
    events = sorted(
        [(i.launched, 1) for i in world.instances]
        + [(i.ended, -1) for i in world.instances if i.ended is not None]
    )
    live = peak = 0
    for _, change in events:
        live += change
        peak = max(peak, live)
    return peak if not math.isnan(peak) else 0
