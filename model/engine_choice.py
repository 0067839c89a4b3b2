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
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from model import engines
from model.agreement import check_agreement
from model.classifier import Classifier
from model.engines import EngineName
from model.golden import golden_files
from model.metadata import DEFAULT_MODEL_PATH

EngineChoice = EngineName | Literal["auto"]
TIMING_SECONDS = 0.3  # per engine: long enough to steady, short enough for a worker's start

log = logging.getLogger("evision.engine")


def open_classifier(
    model_path: Path | None = None, *, engine: EngineChoice = "auto", threads: int = 1
) -> Classifier:
    """The model (default: the committed one), loaded on the chosen engine for `threads` callers."""
    if engine == "auto":
        return choose_engine(model_path, threads=threads)
    return Classifier(model_path, intra_op_threads=1, engine=engine, threads=threads)


def choose_engine(model_path: Path | None = None, *, threads: int = 1) -> Classifier:
    reference = Classifier(model_path, intra_op_threads=1, threads=threads)
    candidates, notes = _candidates(model_path, reference, threads)
    if not candidates:
        return _chosen(reference, "; ".join(notes))
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
    return _chosen(best, f"{best_why}; {'; '.join(notes)}")


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
