"""(a) The bare in-process classifier: the model package's own bench (`model.bench`), not a copy.

It always runs on the model's golden images, which are also the default images of every other
stage. The throughput is its best set-up; the single-image latency is its batch-1, one-caller
figure (the latency floor of one request).
"""

from __future__ import annotations

from pathlib import Path

from services.bench.measurement import Measurement
from services.loadgen.expectations import Expectations
from services.loadgen.images import UploadImage
from services.loadgen.report import Latency


def golden_images() -> tuple[list[UploadImage], Expectations]:
    """The model's golden images and the labels the committed model gives them."""
    from model.golden import load_golden

    golden = load_golden()
    images = [UploadImage(name=g.name, data=g.read_bytes()) for g in golden]
    return images, Expectations({Path(g.name).stem: g.expected_label for g in golden})


def measure_bare(*, seconds: float) -> tuple[Measurement, Measurement]:
    """(best throughput, single-image latency) of decode + preprocess + infer, no queue or HTTP."""
    from model.bench import measure, summarise

    results = measure(seconds=seconds, bare=False)
    summary = summarise(results)
    best = next(m for m in results if m.setup == summary["best_setup"] and m.batch == summary["best_batch"])
    singles = [m for m in results if m.batch == 1 and m.setup.endswith("1 caller")]
    single = min(singles, key=lambda m: m.latency(0.5))
    throughput = Measurement(
        name="bare model",
        images=best.images,
        seconds=best.seconds,
        notes={"setup": best.setup, "batch": best.batch, "all": summary["measurements"]},
    )
    latency = Measurement(
        name="bare single image",
        images=single.images,
        seconds=single.seconds,
        latency=Latency.of([ms / 1000 for ms in single.batch_latencies_ms]),
        notes={"setup": single.setup, "batch": 1},
    )
    return throughput, latency
