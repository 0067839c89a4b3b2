"""Classifier factories for the poison tests (EVISION_CLASSIFIER=tests.worker.poison:crashing_classifier
or :hanging_classifier).

The real model, except that an image carrying POISON crashes the process that decodes it, as a
decoder bug would: a real segfault, not an exception the pipeline could catch; and (the hanging
one) an image carrying HANG never returns from decoding, as a decoder stuck in a loop.
"""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import numpy.typing as npt

from services.ports.classifier import ImageClassifier
from services.worker.classifier import load_classifier
from services.worker.settings import WorkerSettings

POISON = b"EVISION-POISON"  # appended after a JPEG's end: the web tier and decoders accept it


class _Crashing:
    def __init__(self, inner: ImageClassifier) -> None:
        self._inner = inner
        self.name, self.ref, self.engine = inner.name, inner.ref, inner.engine
        self.input_shape = inner.input_shape
        self.infer = inner.infer

    def preprocess(self, data: bytes, out: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]:
        if data.endswith(POISON):
            os.kill(os.getpid(), signal.SIGSEGV)
        return self._inner.preprocess(data, out)


def crashing_classifier(settings: WorkerSettings) -> ImageClassifier:
    return _Crashing(load_classifier(settings.model_path, engine=settings.engine, threads=settings.threads))


HANG = b"EVISION-HANG"  # appended after a JPEG's end: decoding it never returns


class _Hanging(_Crashing):
    def preprocess(self, data: bytes, out: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]:
        if data.endswith(HANG):
            threading.Event().wait()  # a decoder stuck for good: no exception, no return
        return self._inner.preprocess(data, out)


def hanging_classifier(settings: WorkerSettings) -> ImageClassifier:
    return _Hanging(load_classifier(settings.model_path, engine=settings.engine, threads=settings.threads))
