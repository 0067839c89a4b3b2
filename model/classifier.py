"""Batched ImageNet classification on CPU (imports no torch): preprocessing, an engine, top-5.

One Classifier = one engine (model/engines.py), loaded once: ONNX Runtime by default (one
InferenceSession with intra_op_threads=1 shared by one caller thread per core, the fastest set-up
on a small machine), or OpenVINO. `infer` is thread-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.engines import Engine, EngineName, OnnxRuntimeEngine, OpenVinoEngine, session_options
from model.errors import InvalidImageError
from model.metadata import (
    DEFAULT_MODEL_PATH,
    ModelMetadata,
    file_sha256,
    load_labels,
    load_metadata,
    metadata_path_for,
)
from model.preprocess import DEFAULT_MAX_ASPECT_RATIO, DEFAULT_MAX_PIXELS, Limits, Preprocessor

TOP_K = 5


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str
    score: float  # softmax probability of the top-1
    top5: tuple[tuple[str, float], ...]


__all__ = ["Classifier", "Prediction", "session_options"]


class Classifier:
    """The committed EfficientNet-Lite0 (or another model with a metadata.json next to it)."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        intra_op_threads: int = 1,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO,
        draft: bool = True,
        verify_sha256: bool = True,
        engine: EngineName = "onnxruntime",
        threads: int = 1,
        bf16: bool | None = None,
    ) -> None:
        """`threads`: caller threads (OpenVINO: one stream each); `bf16`: None asks the CPU."""
        if intra_op_threads < 1:
            raise ValueError(f"intra_op_threads must be >= 1, not {intra_op_threads}")
        model_path = Path(model_path or DEFAULT_MODEL_PATH)
        self.metadata: ModelMetadata = load_metadata(metadata_path_for(model_path))
        if model_path.name != self.metadata.model_file:
            raise ValueError(
                f"{model_path} is not the model its metadata describes ({self.metadata.model_file})"
            )
        if verify_sha256 and (actual := file_sha256(model_path)) != self.metadata.sha256:
            raise ValueError(f"{model_path} has sha256 {actual}, its metadata says {self.metadata.sha256}")
        engine_file, precision = model_path, "fp32"
        if engine == "onnxruntime-int8":
            engine_file, precision = self._variant(model_path, "int8", verify_sha256=verify_sha256), "int8"
        self.labels = load_labels(self.metadata, model_path.parent)
        self.intra_op_threads = intra_op_threads
        self.preprocessor = Preprocessor(
            self.metadata, Limits(max_pixels=max_pixels, max_aspect_ratio=max_aspect_ratio), draft=draft
        )
        self.engine: Engine
        if engine == "openvino":
            self.engine = OpenVinoEngine(model_path, threads=threads, bf16=bf16)
        else:
            self.engine = OnnxRuntimeEngine(
                engine_file,
                input_name=self.metadata.input_name,
                output_name=self.metadata.output_name,
                intra_op_threads=intra_op_threads,
                precision=precision,
            )

    def _variant(self, model_path: Path, precision: str, *, verify_sha256: bool) -> Path:
        """The manifest's file of the model at `precision`, checked as the fp32 file is."""
        variant = self.metadata.variants.get(precision)
        if variant is None:
            raise ValueError(
                f"{self.metadata.name} has no {precision} variant (make one: python -m model.quantize)"
            )
        path = model_path.parent / variant.file
        if verify_sha256 and (actual := file_sha256(path)) != variant.sha256:
            raise ValueError(f"{path} has sha256 {actual}, its metadata says {variant.sha256}")
        return path

    @property
    def name(self) -> str:
        """e.g. "efficientnet-lite0@491235965c06 onnxruntime-int8": the weights and the engine with
        its precision (every result records it)."""
        return f"{self.metadata.short_name} {self.engine.label}"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.preprocessor.shape

    def preprocess(self, data: bytes, out: np.ndarray | None = None) -> np.ndarray:
        """Encoded bytes -> float32 (3, H, W); raises InvalidImageError."""
        return self.preprocessor(data, out)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw (N, num_classes) float32 logits for a (N, 3, H, W) float32 batch."""
        if batch.ndim != 4 or batch.shape[1:] != self.input_shape:
            raise ValueError(f"expected a batch of shape (N, {self.input_shape}), got {batch.shape}")
        if batch.dtype != np.float32:
            raise ValueError(f"expected float32 pixels, got {batch.dtype}")
        return self.engine.logits(batch)

    def infer(self, batch: np.ndarray) -> list[Prediction]:
        """One prediction per image of the batch. Thread-safe."""
        if len(batch) == 0:
            return []
        return self.predictions(self.logits(batch))

    def predictions(self, logits: np.ndarray) -> list[Prediction]:
        probabilities = _softmax(logits.astype(np.float64))
        top = np.argsort(-probabilities, axis=1, kind="stable")[:, :TOP_K]
        results = []
        for row, indices in zip(probabilities, top, strict=True):
            top5 = tuple((self.labels[i], float(row[i])) for i in indices)
            results.append(Prediction(label=top5[0][0], score=top5[0][1], top5=top5))
        return results

    def classify(self, images: Sequence[bytes]) -> list[Prediction | InvalidImageError]:
        """Preprocess each image (an invalid one yields its error in place), then one batched infer."""
        batch = np.empty((len(images), *self.input_shape), dtype=np.float32)
        results: list[Prediction | InvalidImageError | None] = [None] * len(images)
        valid: list[int] = []
        for index, data in enumerate(images):
            try:
                self.preprocess(data, out=batch[len(valid)])
            except InvalidImageError as error:
                results[index] = error
            else:
                valid.append(index)
        for index, prediction in zip(valid, self.infer(batch[: len(valid)]), strict=True):
            results[index] = prediction
        return [result for result in results if result is not None]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]
