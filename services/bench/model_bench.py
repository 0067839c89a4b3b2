"""`evision bench-model`: the bare throughput of this machine, the "physical limit" of the service.

Measures, on the golden images and the committed model, with no queue, storage or HTTP:
- bare inference (session.run on ready tensors) per batch size and intra-op thread count;
- end to end (decode + preprocess + infer) per batch size for three set-ups: intra_op=1,
  intra_op=2, and two caller threads sharing one intra_op=1 session;
- decoding a large (4000x3000) JPEG with and without Pillow's reduced-size (draft) decoding.

`measure_bare()` is the importable figure the end-to-end benchmark compares against.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import itertools
import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np
from PIL import Image

from model import Classifier, EngineName, Preprocessor, golden_by_name, load_golden, load_metadata

# 4 because the worker calls the model with up to 4 images: the "physical limit" must include it.
DEFAULT_BATCH_SIZES = (1, 4, 8, 32)
DEFAULT_SECONDS = 2.0
LARGE_JPEG_SIZE = (4000, 3000)


@dataclass(frozen=True, slots=True)
class Setup:
    intra_op: int
    callers: int  # caller threads sharing one session

    @property
    def label(self) -> str:
        return f"intra_op={self.intra_op} x {self.callers} caller{'s' if self.callers > 1 else ''}"

    @property
    def threads(self) -> int:
        return self.intra_op * self.callers


SETUPS = (Setup(1, 1), Setup(2, 1), Setup(1, 2))


@dataclass
class Measurement:
    stage: str  # "bare" (inference only) or "end-to-end" (decode + preprocess + infer)
    setup: str
    threads: int
    batch: int
    images: int = 0
    seconds: float = 0.0
    batch_latencies_ms: list[float] = field(default_factory=list, repr=False)
    engine: str = "onnxruntime-fp32"

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    @property
    def per_thread(self) -> float:
        """Images/s per busy thread, i.e. per core when threads <= cores."""
        return self.images_per_s / self.threads

    def latency(self, quantile: float) -> float:
        ordered = sorted(self.batch_latencies_ms)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] if ordered else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "setup": self.setup,
            "threads": self.threads,
            "batch": self.batch,
            "images": self.images,
            "seconds": round(self.seconds, 3),
            "images_per_s": round(self.images_per_s, 1),
            "images_per_s_per_thread": round(self.per_thread, 1),
            "batch_latency_ms_p50": round(self.latency(0.5), 2),
            "batch_latency_ms_p95": round(self.latency(0.95), 2),
        }


def _cycle(items: Sequence[Any], count: int, start: int = 0) -> list[Any]:
    return [items[(start + i) % len(items)] for i in range(count)]


def _timed(
    work: Callable[[], int], callers: int, seconds: float, stage: str, setup: Setup, batch: int
) -> Measurement:
    """Run `work` (returns images done) in `callers` threads until `seconds` pass; one warm-up first."""
    work()
    result = Measurement(stage=stage, setup=setup.label, threads=setup.threads, batch=batch)
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + seconds

    def loop() -> None:
        while True:
            t0 = time.perf_counter()
            done = work()
            t1 = time.perf_counter()
            with lock:
                result.images += done
                result.batch_latencies_ms.append((t1 - t0) * 1000)
            if t1 >= deadline:
                return

    threads = [threading.Thread(target=loop) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - start
    return result


def _end_to_end(classifier: Classifier, images: Sequence[bytes], batch: int) -> Callable[[], int]:
    """Each call takes the next `batch` images round the set, so every batch size and caller sees
    the same mix (the images differ in decode cost: always the first one would flatter batch 1)."""
    calls = itertools.count()  # next() is atomic: callers in several threads each get their own

    def work() -> int:
        return len(classifier.classify(_cycle(images, batch, next(calls) * batch)))

    return work


def _bare(classifier: Classifier, tensors: np.ndarray, batch: int) -> Callable[[], int]:
    ready = np.ascontiguousarray(tensors[_cycle(range(len(tensors)), batch)])

    def work() -> int:
        return len(classifier.logits(ready))

    return work


def measure(
    *,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    seconds: float = DEFAULT_SECONDS,
    setups: Sequence[Setup] = SETUPS,
    bare: bool = True,
    model_path: Path | None = None,
    engine: EngineName = "onnxruntime",
) -> list[Measurement]:
    images = [golden.read_bytes() for golden in load_golden()]
    callers = max(s.callers for s in setups)
    sessions = {
        n: Classifier(model_path, intra_op_threads=n, engine=engine, threads=callers)
        for n in sorted({s.intra_op for s in setups})
    }
    tensors = np.stack([sessions[1 if 1 in sessions else min(sessions)].preprocess(data) for data in images])
    results = []
    if bare:
        for intra_op, classifier in sessions.items():
            for batch in batch_sizes:
                work = _bare(classifier, tensors, batch)
                results.append(_timed(work, 1, seconds, "bare", Setup(intra_op, 1), batch))
    for setup in setups:
        for batch in batch_sizes:
            work = _end_to_end(sessions[setup.intra_op], images, batch)
            results.append(_timed(work, setup.callers, seconds, "end-to-end", setup, batch))
    label = sessions[min(sessions)].engine.label
    for result in results:
        result.engine = label
    return results


def available_engines(model_path: Path | None = None) -> list[EngineName]:
    """The engines `bench-model` measures by default: fp32, the model's int8 variant if it has
    one, OpenVINO where it is installed (fp32 first: the others' ratios are against it)."""
    metadata = load_metadata(model_path.parent / "metadata.json" if model_path else None)
    found: list[EngineName] = ["onnxruntime"]
    if "int8" in metadata.variants:
        found.append("onnxruntime-int8")
    if importlib.util.find_spec("openvino") is not None:
        found.append("openvino")
    return found


def measure_bare(
    *,
    seconds: float = DEFAULT_SECONDS,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    model_path: Path | None = None,
    engine: EngineName = "onnxruntime",
) -> dict[str, Any]:
    """The best end-to-end images/s on this machine and the single-image latency (batch 1).

    Returns {"images_per_s", "best_setup", "best_batch", "single_image_latency_ms", "measurements"}.
    """
    results = measure(
        batch_sizes=batch_sizes, seconds=seconds, bare=False, model_path=model_path, engine=engine
    )
    return summarise(results)


def summarise(results: Sequence[Measurement]) -> dict[str, Any]:
    end_to_end = [m for m in results if m.stage == "end-to-end"]
    best = max(end_to_end, key=lambda m: m.images_per_s)
    singles = [m for m in end_to_end if m.batch == 1 and m.setup.endswith("1 caller")] or end_to_end
    return {
        "images_per_s": round(best.images_per_s, 1),
        "best_setup": best.setup,
        "best_batch": best.batch,
        "single_image_latency_ms": round(min(m.latency(0.5) for m in singles), 2),
        "cpu_count": os.cpu_count(),
        "measurements": [m.summary() for m in results],
    }


def _median_ms(work: Callable[[], object], repeats: int) -> float:
    work()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        work()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure_stages(repeats: int = 15, model_path: Path | None = None) -> dict[str, float]:
    """Where one image's time goes: median ms per stage, averaged over the golden images, on one
    thread: decode (Pillow's path, and the fast JPEG path), resize + crop, normalise, infer at
    batch 1 per engine (fp32, int8 where the model has it)."""
    classifier = Classifier(model_path)
    fast, pillow = classifier.preprocessor, Preprocessor(classifier.metadata, fast_jpeg=False)
    images = [golden.read_bytes() for golden in load_golden()]
    engines: dict[str, Classifier] = {"fp32": classifier}
    if "int8" in classifier.metadata.variants:
        engines["int8"] = Classifier(model_path, engine="onnxruntime-int8")
    stages: dict[str, list[float]] = {}

    def add(stage: str, ms: float) -> None:
        stages.setdefault(stage, []).append(ms)

    out = np.empty(classifier.input_shape, dtype=np.float32)
    for data in images:
        add("decode (Pillow)", _median_ms(lambda data=data: pillow.decode(data), repeats))  # type: ignore[misc]
        add("decode (fast path)", _median_ms(lambda data=data: fast.decode(data), repeats))  # type: ignore[misc]
        decoded = fast.decode(data)
        add("resize + crop", _median_ms(lambda decoded=decoded: fast.resize_crop(decoded), repeats))  # type: ignore[misc]
        cropped = fast.resize_crop(decoded)
        add("normalise", _median_ms(lambda cropped=cropped: fast.normalise(cropped, out), repeats))  # type: ignore[misc]
        for name, engine in engines.items():
            batch = engine.preprocess(data)[np.newaxis]
            add(f"infer {name} (batch 1)", _median_ms(lambda e=engine, b=batch: e.logits(b), repeats))  # type: ignore[misc]
    return {stage: round(statistics.fmean(values), 3) for stage, values in stages.items()}


def measure_draft(repeats: int = 5, model_path: Path | None = None) -> dict[str, Any]:
    """Decode + preprocess time (median ms) of a large JPEG with and without draft decoding."""
    classifier = Classifier(model_path)
    cat = golden_by_name()["cat.jpg"].read_bytes()
    with Image.open(io.BytesIO(cat)) as image:
        large_image = image.convert("RGB").resize(LARGE_JPEG_SIZE, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    large_image.save(buffer, "JPEG", quality=90)
    large = buffer.getvalue()
    # Pillow's path with and without draft decoding, then the fast JPEG path (the default)
    drafting = Preprocessor(classifier.metadata, fast_jpeg=False)
    plain = Preprocessor(classifier.metadata, draft=False, fast_jpeg=False)

    def median_ms(preprocess: Preprocessor, data: bytes) -> float:
        preprocess(data)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            preprocess(data)
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    small_ms, small_fast_ms = median_ms(drafting, cat), median_ms(classifier.preprocessor, cat)
    with_draft, without_draft = median_ms(drafting, large), median_ms(plain, large)
    fast = median_ms(classifier.preprocessor, large)
    return {
        "large_jpeg": f"{LARGE_JPEG_SIZE[0]}x{LARGE_JPEG_SIZE[1]}",
        "large_jpeg_bytes": len(large),
        "small_jpeg_ms": round(small_ms, 2),
        "small_jpeg_fast_ms": round(small_fast_ms, 2),
        "large_fast_ms": round(fast, 2),
        "large_with_draft_ms": round(with_draft, 2),
        "large_without_draft_ms": round(without_draft, 2),
        "draft_speedup": round(without_draft / with_draft, 2),
        "large_over_small_with_draft": round(with_draft / small_ms, 2),
    }


# -- CLI --------------------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-sizes",
        default=",".join(map(str, DEFAULT_BATCH_SIZES)),
        help="comma-separated (default: 1,4,8,32)",
    )
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help="per measurement (default: %(default)s)"
    )
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: the committed one)")
    parser.add_argument(
        "--engine",
        default="all",
        help="comma-separated engines to measure side by side: onnxruntime (fp32), onnxruntime-int8, "
        "openvino; default all: every one this machine and model offer",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="also write the figures as JSON"
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(100, Console().width))
    batch_sizes = [int(size) for size in str(args.batch_sizes).split(",") if size.strip()]
    console.print(f"[bold]bench-model[/]: {len(load_golden())} golden images, {os.cpu_count()} CPUs, ...")
    load_before = os.getloadavg()
    requested = [name.strip() for name in str(args.engine).split(",") if name.strip()]
    if requested == ["all"]:
        requested = list(available_engines(args.model))
    names: list[EngineName] = [name for name in get_args(EngineName) if name in requested]
    unknown = [name for name in requested if name not in names]
    if unknown:
        console.print(
            f"[red]bench-model:[/] unknown engine {unknown}; known: {', '.join(get_args(EngineName))}"
        )
        return 2
    by_engine = {
        name: measure(batch_sizes=batch_sizes, seconds=args.seconds, model_path=args.model, engine=name)
        for name in names
    }
    results = [m for measured in by_engine.values() for m in measured]
    report = summarise(by_engine[names[0]])
    report["engines"] = {measured[0].engine: summarise(measured) for measured in by_engine.values()}
    report["draft"] = measure_draft(model_path=args.model)
    report["stages_ms"] = measure_stages(model_path=args.model)
    # Other work on the machine skews every figure: record how busy it was.
    report["load_average_1min"] = {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)}

    table = Table(title="model throughput (images/s) and batch latency (ms)")
    for column in ("engine", "stage", "set-up", "batch", "images/s", "per thread", "p50 ms", "p95 ms"):
        text = column in ("engine", "stage", "set-up")
        table.add_column(column, justify="left" if text else "right", no_wrap=text)
    for m in results:
        row = m.summary()
        table.add_row(
            m.engine,
            m.stage,
            m.setup,
            str(m.batch),
            f"{m.images_per_s:.1f}",
            f"{m.per_thread:.1f}",
            f"{row['batch_latency_ms_p50']:.1f}",
            f"{row['batch_latency_ms_p95']:.1f}",
        )
    console.print(table)
    draft = report["draft"]
    console.print(
        f"large JPEG {draft['large_jpeg']}: {draft['large_without_draft_ms']:.1f} ms without draft, "
        f"{draft['large_with_draft_ms']:.1f} ms with draft (x{draft['draft_speedup']:.1f}); "
        f"small golden JPEG {draft['small_jpeg_ms']:.1f} ms; fast JPEG path: large "
        f"{draft['large_fast_ms']:.1f} ms, small {draft['small_jpeg_fast_ms']:.1f} ms (decode + preprocess)"
    )
    console.print(
        "[bold]per image[/] (median ms, one thread, golden images): "
        + ", ".join(f"{stage} {ms:.2f}" for stage, ms in report["stages_ms"].items())
    )
    console.print(
        f"[bold]physical limit[/]: {report['images_per_s']:.1f} images/s ({report['best_setup']}, "
        f"batch {report['best_batch']}); single image {report['single_image_latency_ms']:.1f} ms"
    )
    if len(report["engines"]) > 1:
        limits = {name: r["images_per_s"] for name, r in report["engines"].items()}
        first = next(iter(limits.values()))
        console.print(
            "[bold]per engine[/]: "
            + ", ".join(
                f"{name} {limit:.1f} images/s (x{limit / first:.2f})" for name, limit in limits.items()
            )
        )
    load = report["load_average_1min"]
    console.print(
        f"1-minute load average: {load['before']} before, {load['after']} after (CPUs: {os.cpu_count()})"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {args.json}")
    return 0


__all__ = [
    "Measurement",
    "Setup",
    "available_engines",
    "configure",
    "measure",
    "measure_bare",
    "measure_draft",
    "measure_stages",
    "run",
    "summarise",
]
