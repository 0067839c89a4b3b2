"""(a) The bare in-process classifier: `evision bench-model`'s own measurement (`model_bench`), not a copy.

It always runs on the model's golden images, which are also the default images of every other
stage. The throughput is its best set-up; the single-image latency is its batch-1, one-caller
figure (the latency floor of one request).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model import EngineName
from services.bench.measurement import Measurement
from services.loadgen.expectations import Expectations
from services.loadgen.images import UploadImage
from services.loadgen.report import Latency


def golden_images() -> tuple[list[UploadImage], Expectations]:
    """The model's golden images and the labels the committed model gives them."""
    from model import load_golden

    golden = load_golden()
    images = [UploadImage(name=g.name, data=g.read_bytes()) for g in golden]
    return images, Expectations({Path(g.name).stem: g.expected_label for g in golden})


@dataclass(frozen=True, slots=True)
class BareRun:
    images: int  # by the best set-up
    seconds: float
    setup: str
    batch: int
    single_latencies_s: list[float]  # batch 1, one caller: one per image
    single_setup: str
    all: list[dict[str, Any]]  # bench-model's own rows
    cpu_ms_per_image: float  # over all of bench-model's set-ups: the model's own CPU cost of one image


def measure_bare_once(*, seconds: float, engine: EngineName = "onnxruntime") -> BareRun:
    """Decode + preprocess + infer, no queue or HTTP: bench-model's best set-up and its batch-1 latency."""
    from services.bench.model_bench import measure, summarise

    cpu_before = time.process_time()
    results = measure(seconds=seconds, bare=False, engine=engine)
    cpu_seconds = time.process_time() - cpu_before
    summary = summarise(results)
    best = next(m for m in results if m.setup == summary["best_setup"] and m.batch == summary["best_batch"])
    singles = [m for m in results if m.batch == 1 and m.setup.endswith("1 caller")]
    single = min(singles, key=lambda m: m.latency(0.5))
    return BareRun(
        images=best.images,
        seconds=best.seconds,
        setup=best.setup,
        batch=best.batch,
        single_latencies_s=[ms / 1000 for ms in single.batch_latencies_ms],
        single_setup=single.setup,
        all=summary["measurements"],
        cpu_ms_per_image=cpu_seconds * 1000 / sum(m.images for m in results),
    )


def combine(runs: Sequence[BareRun]) -> tuple[Measurement, Measurement]:
    """(throughput, single-image latency) over several bare runs (at the start and the end of a bench:
    on a shared machine the neighbours' load drifts, and the stages in between see the average)."""
    rates = [round(r.images / r.seconds, 1) for r in runs]
    throughput = Measurement(
        name="bare model",
        images=sum(r.images for r in runs),
        seconds=sum(r.seconds for r in runs),
        notes={
            "setup": runs[0].setup,
            "batch": runs[0].batch,
            "images_per_s_by_run": rates,
            "cpu_ms_per_image": {"bare": round(statistics.fmean(r.cpu_ms_per_image for r in runs), 2)},
            "runs": [r.all for r in runs],
        },
    )
    latencies = [s for r in runs for s in r.single_latencies_s]
    single = Measurement(
        name="bare single image",
        images=len(latencies),
        seconds=sum(latencies),
        latency=Latency.of(latencies),
        notes={"setup": runs[0].single_setup, "batch": 1},
    )
    return throughput, single


def reference_rate(
    setup_label: str, batch: int, *, seconds: float, engine: EngineName = "onnxruntime"
) -> float:
    """Images/s of one bench-model set-up, re-measured right next to a stage: the stage's own yardstick
    on a machine whose other load drifts from minute to minute."""
    from services.bench.model_bench import SETUPS, measure

    setup = next(s for s in SETUPS if s.label == setup_label)
    (result,) = measure(seconds=seconds, setups=[setup], batch_sizes=[batch], bare=False, engine=engine)
    return result.images_per_s
