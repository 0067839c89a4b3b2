"""Which engine runs the model: the one asked for, or with `auto` the fastest one that agrees.

`auto` (the default, locally and in the cloud) times, at the worker's start, ONNX Runtime fp32
(the reference) and every candidate this machine and model offer, and takes the fastest that
agrees with the reference on the model's golden images (`agreement`: top-1 wherever the reference
leads by > 0.05):
- ONNX Runtime int8, where the manifest has an int8 variant (model/quantize.py);
- OpenVINO bf16, where it is installed and the CPU computes bf16 natively.
Why `auto` is the cloud's default too: the workers run on c7i (4th-gen Xeon), which has AVX-512
VNNI and AMX: int8 dot products in one instruction (VNNI; AMX's tiles for int8 and bf16), the
kind that gave int8 2.0-2.2x over fp32 on the AVX-512 VNNI EPYC here (issue #38, 2026-12-06).
Measuring at start rather than assuming keeps a host without them on the faster engine it has,
and an engine that disagrees is never chosen. The choice, its figures and why the others were not
taken are logged in one line.

The choice is kept per machine (`CHOICES`, a file per fingerprint: the model's and its variants'
hashes, the engines' versions, the CPU's flags and count, the threads), so every worker process
of a machine, and the helper that classifies a redelivered image alone, take the same engine and
pay the measuring (~1-3 s here) once. Delete the folder to measure again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from model import engines
from model.agreement import check_agreement
from model.classifier import Classifier
from model.engines import EngineName
from model.golden import golden_files
from model.metadata import DEFAULT_MODEL_PATH, ModelMetadata, load_metadata, metadata_path_for

EngineChoice = EngineName | Literal["auto"]
TIMING_SECONDS = 0.3  # per engine: long enough to steady, short enough for a worker's start
CHOICES = Path(tempfile.gettempdir()) / "evision-engine-choice"

log = logging.getLogger("evision.engine")


def open_classifier(
    model_path: Path | None = None, *, engine: EngineChoice = "auto", threads: int = 1
) -> Classifier:
    """The model (default: the committed one), loaded on the chosen engine for `threads` callers."""
    if engine == "auto":
        return choose_engine(model_path, threads=threads, choices=CHOICES)
    return Classifier(model_path, intra_op_threads=1, engine=engine, threads=threads)


def auto_engine(model_path: Path | None = None, *, threads: int = 1) -> EngineName:
    """The engine `auto` takes on this machine (measured once, then kept like a worker's choice)."""
    return engine_name(open_classifier(model_path, engine="auto", threads=threads))


def engine_name(classifier: Classifier) -> EngineName:
    """The engine a loaded classifier runs on, by the name `open_classifier` takes."""
    label = classifier.engine.label
    if label == "onnxruntime-int8":
        return "onnxruntime-int8"
    if label == "onnxruntime-fp32":
        return "onnxruntime"
    return "openvino"  # bf16 or f32: OpenVINO asks the CPU again, as it did


def choose_engine(
    model_path: Path | None = None, *, threads: int = 1, choices: Path | None = None
) -> Classifier:
    """`choices`: the folder of choices already made on this machine (None: measure, keep none)."""
    if choices is None:
        return _chosen(*_measure(model_path, threads))
    metadata = load_metadata(metadata_path_for(Path(model_path or DEFAULT_MODEL_PATH)))
    kept = choices / f"{_fingerprint(metadata, threads)}.json"
    with _one_at_a_time(kept):  # workers starting together: the first measures, the rest read it
        if (earlier := _read(kept)) is not None:
            name, reason = earlier
            chosen = Classifier(model_path, intra_op_threads=1, engine=name, threads=threads)
            return _chosen(chosen, f"as measured on this machine before ({kept}): {reason}")
        chosen, reason = _measure(model_path, threads)
        _write(kept, chosen, reason)
    return _chosen(chosen, reason)


@contextlib.contextmanager
def _one_at_a_time(kept: Path) -> Iterator[None]:
    """An exclusive lock beside the kept choice (released when its process ends, whatever happens)."""
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        handle = kept.with_suffix(".lock").open("a")
    except OSError:  # no writable temp dir: every worker measures for itself
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _measure(model_path: Path | None, threads: int) -> tuple[Classifier, str]:
    reference = Classifier(model_path, intra_op_threads=1, threads=threads)
    candidates, notes = _candidates(model_path, reference, threads)
    if not candidates:
        return reference, "; ".join(notes)
    folder = Path(model_path or DEFAULT_MODEL_PATH).parent
    images = [path.read_bytes() for path in golden_files(folder)]
    batch = np.stack([reference.preprocess(data) for data in images[:4]])
    reference_ms = _ms_per_image(reference, batch)
    best, best_ms = reference, reference_ms
    for candidate in candidates:
        label = candidate.engine.label
        agreement = check_agreement(candidate, reference, images)
        if not agreement.ok:
            notes.append(f"{label} disagrees: {'; '.join(agreement.problems)}")
            continue
        ms = _ms_per_image(candidate, batch)
        notes.append(f"{label} {ms:.1f} ms/image, agrees ({agreement.summary()})")
        if ms < best_ms:
            best, best_ms = candidate, ms
    best_why = f"fastest that agrees, {best_ms:.1f} ms/image against fp32's {reference_ms:.1f}"
    if best is reference:
        best_why = f"no agreeing engine is faster than fp32's {reference_ms:.1f} ms/image"
    return best, f"{best_why}; {'; '.join(notes)}"


def _candidates(
    model_path: Path | None, reference: Classifier, threads: int
) -> tuple[list[Classifier], list[str]]:
    """The engines worth timing here, and why any other was left out."""
    found: list[Classifier] = []
    notes: list[str] = []
    if "int8" in reference.metadata.variants:
        found.append(Classifier(model_path, intra_op_threads=1, engine="onnxruntime-int8", threads=threads))
    else:
        notes.append("the model has no int8 variant")
    if not engines.openvino_available():
        notes.append("OpenVINO is not installed")
    elif not engines.cpu_computes_bf16():
        notes.append("this CPU has no native bf16 (OpenVINO f32 is no faster)")
    else:
        found.append(Classifier(model_path, engine="openvino", threads=threads))
    return found, notes


def _fingerprint(metadata: ModelMetadata, threads: int) -> str:
    """What the choice depends on: the model's files, the engines, the CPU, the threads."""
    cpu = ""
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as info:
            cpu = "".join(line for line in info if line.startswith(("model name", "flags")))
    except OSError:  # not Linux: the count and the versions still tell machines apart a little
        pass
    facts = {
        "model": metadata.sha256,
        "variants": sorted(v.sha256 for v in metadata.variants.values()),
        "engines": engines.versions(),
        "cpu": hashlib.sha256(cpu.encode()).hexdigest(),
        "cpus": os.cpu_count(),
        "threads": threads,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:20]


def _read(path: Path) -> tuple[EngineName, str] | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name, reason = raw.get("engine"), raw.get("reason")
    if name not in get_args(EngineName) or not isinstance(reason, str):
        return None  # another version's file: measure again
    return name, reason


def _write(path: Path, chosen: Classifier, reason: str) -> None:
    """Atomically (several workers may start at once); a read-only disk only costs the re-measure."""
    try:
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"engine": engine_name(chosen), "reason": reason}), encoding="utf-8")
        partial.replace(path)
    except OSError as error:
        log.warning("the engine choice is not kept (%s): the next start measures again", error)


def _chosen(classifier: Classifier, reason: str) -> Classifier:
    log.info("inference engine %s: %s", classifier.engine.label, reason)
    return classifier


def _ms_per_image(classifier: Classifier, batch: npt.NDArray[np.float32]) -> float:
    classifier.logits(batch)  # warm-up
    started, images = time.perf_counter(), 0
    while time.perf_counter() - started < TIMING_SECONDS:
        classifier.logits(batch)
        images += len(batch)
    return (time.perf_counter() - started) * 1000 / images
