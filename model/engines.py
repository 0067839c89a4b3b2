"""Inference engines for the one ONNX model: ONNX Runtime fp32 (the reference), ONNX Runtime int8
(the model's quantized variant, model/quantize.py) and OpenVINO.

An engine turns a (N, 3, H, W) float32 batch into (N, classes) logits and is safe to call from
several threads at once. OpenVINO runs the same .onnx file; where the CPU computes bf16 natively
(AVX-512 BF16 or AMX: OpenVINO lists "BF16" in the CPU's OPTIMIZATION_CAPABILITIES) it infers in
bf16, otherwise in f32. `openvino` is an optional dependency (`pip install 'elastic-vision[openvino]'`).

Measured here (2 vCPUs, AMD EPYC with AVX-512 BF16, no AMX; 2026-12-02; 4 golden images):
one thread, ONNX Runtime fp32 10.9 ms/image; OpenVINO bf16 7.4 ms at batch 1, 5.7 ms at batch 4;
OpenVINO f32 10.7-11.5 ms. Two caller threads: ONNX Runtime 172 images/s; OpenVINO bf16 with
NUM_STREAMS=2 and INFERENCE_NUM_THREADS=2 (the total, i.e. one per stream) 249 images/s at batch
4 (LATENCY hint, 1 stream x 2 threads: 252; INFERENCE_NUM_THREADS=1: 147, one core idle).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import onnxruntime as ort

# "onnxruntime-int8" runs the manifest's int8 variant file (static QDQ): ONNX Runtime's CPU
# provider fuses each QDQ pair into integer kernels, VNNI's (or AMX's) 8-bit dot products where
# the CPU has them.
EngineName = Literal["onnxruntime", "onnxruntime-int8", "openvino"]


class Engine(Protocol):
    @property
    def label(self) -> str:
        """Engine and precision, e.g. "onnxruntime-fp32", "openvino-bf16"."""
        ...

    def logits(self, batch: np.ndarray) -> np.ndarray: ...


def session_options(intra_op_threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    return options


class OnnxRuntimeEngine:
    """One InferenceSession shared by the caller threads (session.run is thread-safe)."""

    def __init__(
        self,
        model_path: Path,
        *,
        input_name: str,
        output_name: str,
        intra_op_threads: int = 1,
        precision: str = "fp32",
    ) -> None:
        self._session = ort.InferenceSession(
            str(model_path), session_options(intra_op_threads), providers=["CPUExecutionProvider"]
        )
        self._input, self._output = input_name, output_name
        self.precision = precision

    @property
    def label(self) -> str:
        return f"onnxruntime-{self.precision}"

    def logits(self, batch: np.ndarray) -> np.ndarray:
        (logits,) = self._session.run([self._output], {self._input: np.ascontiguousarray(batch)})
        return np.asarray(logits)


def versions() -> dict[str, str]:
    """The installed engines' versions (a new one may rank the engines differently)."""
    found = {"onnxruntime": ort.__version__}
    if openvino_available():
        from importlib.metadata import version

        found["openvino"] = version("openvino")
    return found


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def cpu_computes_bf16(core: Any | None = None) -> bool:
    """Whether OpenVINO's CPU plugin reports native bf16 (AVX-512 BF16 or AMX)."""
    if not openvino_available():
        return False
    import openvino

    core = core or openvino.Core()
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoEngine:
    """The model compiled for the CPU, one stream per caller thread, an infer request per thread."""

    def __init__(self, model_path: Path, *, threads: int, bf16: bool | None = None) -> None:
        import openvino

        core = openvino.Core()
        self.precision = "bf16" if (cpu_computes_bf16(core) if bf16 is None else bf16) else "f32"
        self._compiled = core.compile_model(
            str(model_path),
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": self.precision,
                "NUM_STREAMS": threads,
                "INFERENCE_NUM_THREADS": threads,  # the total: one per stream (see the module doc)
                "PERFORMANCE_HINT": "THROUGHPUT",
            },
        )
        self._local = threading.local()
        # The first `.data` of any tensor initialises pybind11's numpy API behind a call-once that
        # deadlocks when two threads reach it together (seen in the bench: both inference threads
        # parked in gil_safe_call_once_and_store<npy_api> for ever). Reach it once here, alone.
        _ = self._compiled.create_infer_request().get_input_tensor(0).data

    @property
    def label(self) -> str:
        return f"openvino-{self.precision}"

    def logits(self, batch: np.ndarray) -> np.ndarray:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        request.infer({0: np.ascontiguousarray(batch)})
        return np.array(request.get_output_tensor(0).data)  # a copy: the request reuses its buffer
