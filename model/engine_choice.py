"""Which engine runs the model: the one asked for, or with `auto` the faster one that agrees.

`auto` takes OpenVINO where it is installed, the CPU computes bf16 natively, its answers agree
with ONNX Runtime's on the golden images (`agreement`) and it is faster here; else ONNX Runtime.
The choice and its reason are logged (one line).
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
from model.golden import load_golden

EngineChoice = EngineName | Literal["auto"]
TIMING_SECONDS = 0.3  # per engine: long enough to steady, short enough for a worker's start

log = logging.getLogger("evision.engine")


def open_classifier(
    model_path: Path | None = None, *, engine: EngineChoice = "onnxruntime", threads: int = 1
) -> Classifier:
    """The model (default: the committed one), loaded on the chosen engine for `threads` callers."""
    if engine == "auto":
        return choose_engine(model_path, threads=threads)
    return Classifier(model_path, intra_op_threads=1, engine=engine, threads=threads)


def choose_engine(model_path: Path | None = None, *, threads: int = 1) -> Classifier:
    reference = Classifier(model_path, intra_op_threads=1, threads=threads)
    if not engines.openvino_available():
        return _chosen(reference, "OpenVINO is not installed")
    if not engines.cpu_computes_bf16():
        return _chosen(reference, "this CPU has no native bf16 (OpenVINO f32 is no faster)")
    candidate = Classifier(model_path, engine="openvino", threads=threads)
    images = [image.read_bytes() for image in load_golden()]
    agreement = check_agreement(candidate, reference, images)
    if not agreement.ok:
        return _chosen(reference, f"OpenVINO bf16 disagrees: {'; '.join(agreement.problems)}")
    batch = np.stack([reference.preprocess(data) for data in images[:4]])
    fast, slow = _ms_per_image(candidate, batch), _ms_per_image(reference, batch)
    if fast >= slow:
        return _chosen(reference, f"OpenVINO bf16 is not faster here ({fast:.1f} vs {slow:.1f} ms/image)")
    return _chosen(candidate, f"{fast:.1f} vs {slow:.1f} ms/image; {agreement.summary()}")


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
