"""The classifier port: what the worker needs from a model. The only port that needs NumPy (so
the web tier, which imports none of this module, loads none)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from services.contract import ErrorKind


class ImageRejectedError(ValueError):
    """An image the classifier cannot read: `kind` from the contract's one vocabulary, `reason` why."""

    def __init__(self, kind: ErrorKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class Prediction(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def top5(self) -> Sequence[tuple[str, float]]: ...


class ImageClassifier(Protocol):
    """What the worker needs from a model: decode into a batch tensor, then classify the batch.

    `preprocess` raises ImageRejectedError for an image it cannot read (and nothing else for a bad
    image); `infer` is thread-safe.
    """

    @property
    def name(self) -> str:
        """The model and the exact weights (and engine), as recorded in every result."""
        ...

    @property
    def ref(self) -> str:
        """The model and its weights, `name@version`: what a request's `model` names."""
        ...

    @property
    def engine(self) -> str:
        """The engine and its precision, e.g. `onnxruntime-int8`: what a precision pin asks for."""
        ...

    @property
    def input_shape(self) -> tuple[int, int, int]: ...

    def preprocess(
        self, data: bytes, out: npt.NDArray[np.float32] | None = None
    ) -> npt.NDArray[np.float32]: ...

    def infer(self, batch: npt.NDArray[np.float32]) -> Sequence[Prediction]: ...
