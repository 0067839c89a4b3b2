"""The two policies the "same policy everywhere" tests render and follow: the default and one
with every number changed."""

from __future__ import annotations

from dataclasses import replace

from services.elasticity.policy import ScalingPolicy, Step

DEFAULT = ScalingPolicy()
MODIFIED = replace(
    DEFAULT,
    min_capacity=1,
    max_capacity=8,
    scale_from_zero_to=2,
    scale_out_steps=(Step(200, 800, 2), Step(800, None, 4)),
    scale_out_evaluation_periods=2,
    scale_out_datapoints_to_alarm=1,
    scale_in_idle_periods=7,
    warmup_periods=2,
)
