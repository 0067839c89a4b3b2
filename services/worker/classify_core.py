"""The one classify core of the worker, for both message kinds (an upload batch, a job chunk).

Images in (bytes, the model asked for, whether they are suspects), one outcome each out: a
prediction, an error that is the image's own (unreadable, unknown model), or a failure (something
went wrong that another try may mend). Grouped by model, decoded straight into each inference
call's tensor, inferred on the compute threads; suspects (images that were in hand when something
went wrong before) are classified one by one in the isolation helper meanwhile, so an image that
crashes or hangs the decoder fails alone. Everything runs under the caller's batch deadline: past
it the core returns False and the caller gives the batch up (a thread cannot be interrupted).
"""

from __future__ import annotations

import concurrent.futures
import math
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from services.contract import ErrorKind, Precision, ResultError
from services.models.errors import UnknownModelError
from services.ports.classifier import ImageClassifier, ImageRejectedError, Prediction
from services.worker.isolation import Isolator, SuspectFailedError
from services.worker.model_pool import ModelPool

T = TypeVar("T")
ALONE_FLOOR = 1.0  # seconds a suspect gets in isolation even when the batch deadline is near


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@dataclass(eq=False)
class Image:
    """One image through the core: `data` and `model` in; exactly one outcome out (or none, if
    the deadline passed first)."""

    data: bytes | None
    model: str | None  # the model asked for (None: the worker's default)
    precision: Precision = "auto"  # pinned, or auto: the worker's engine
    suspect: bool = False  # classify it alone, in the isolation helper
    prediction: Prediction | None = None
    classified_by: str | None = None  # the classifier's name (model@version and engine)
    error: ResultError | None = None  # the image's own: final, never retried
    failure: str | None = None  # unexpected: another receive may mend it
    cause: BaseException | None = None
    retry_now: bool = False  # failed alone, deterministically: waiting mends nothing
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def pending(self) -> bool:
        return self.prediction is None and self.error is None and self.failure is None

    def reject(self, error: ResultError, model: str | None = None) -> None:
        self.error, self.classified_by = error, model

    def fail(self, what: str, exc: BaseException | None = None) -> None:
        self.failure, self.cause = what, exc


def even_calls(items: list[T], most: int, threads: int) -> list[list[T]]:
    """`items` in order, as inference calls of at most `most` images, shared evenly by `threads`.

    The number of calls is a multiple of the thread count where there are enough items, and calls
    differ by one image at most: 10 items, at most 4 per call, 2 threads -> 3, 3, 2, 2 (not 4, 4,
    2, where one thread would classify its last 2 while the other idles).
    """
    if not items:
        return []
    count = math.ceil(len(items) / most)
    count = min(len(items), math.ceil(count / threads) * threads)
    size, extra = divmod(len(items), count)
    result: list[list[T]] = []
    start = 0
    for index in range(count):
        end = start + size + (index < extra)
        result.append(items[start:end])
        start = end
    return result


class ClassifyCore:
    """Thread-safe across batches: the compute threads and the isolation helper are shared."""

    def __init__(
        self,
        *,
        models: ModelPool,
        compute: ThreadPoolExecutor,
        isolator: Isolator | None,
        infer_batch: int,
        threads: int,
    ) -> None:
        self.models = models
        self._compute = compute
        self._isolator = isolator
        self._infer_batch = infer_batch
        self._threads = threads

    @property
    def isolates(self) -> bool:
        return self._isolator is not None

    def classify(self, images: list[Image], deadline: float, *, alone_tries: int = 1) -> bool:
        """Give each pending image an outcome by `deadline` (time.monotonic()); False if some
        inference call is still running then. A suspect gets `alone_tries` tries in the helper
        (an image that kills it once may have met a passing fault, e.g. memory)."""
        pending = [image for image in images if image.pending]
        suspects = [image for image in pending if image.suspect] if self._isolator else []
        by_model: dict[tuple[str | None, Precision], list[Image]] = defaultdict(list)
        for image in pending:
            if image not in suspects:
                by_model[image.model, image.precision].append(image)
        calls: list[tuple[ImageClassifier, list[Image]]] = []
        for (ref, precision), group in by_model.items():
            try:
                classifier = self.models.get(ref, precision)
            except UnknownModelError as exc:
                for image in group:
                    image.reject(ResultError(kind=ErrorKind.INVALID_REQUEST, reason=str(exc)))
                continue
            except Exception as exc:
                for image in group:
                    image.fail(f"loading model {ref} failed", exc)
                continue
            calls += [(classifier, call) for call in even_calls(group, self._infer_batch, self._threads)]
        futures = [self._compute.submit(_run, classifier, call) for classifier, call in calls]
        for image in suspects:  # meanwhile, in the calling thread, which would only wait
            self._alone(image, deadline, alone_tries)
        return within(deadline, futures)

    def _alone(self, image: Image, deadline: float, tries: int) -> None:
        """A suspect, in the helper process: if it crashes or hangs it, only this image fails."""
        assert image.data is not None and self._isolator is not None
        t0 = time.perf_counter()
        try:
            folder = self.models.folder(image.model, image.precision)
        except UnknownModelError as exc:
            image.reject(ResultError(kind=ErrorKind.INVALID_REQUEST, reason=str(exc)))
            return
        failure: SuspectFailedError | None = None
        for _ in range(tries):
            try:
                timeout = max(ALONE_FLOOR, deadline - time.monotonic())
                prediction = self._isolator.classify(
                    image.data, timeout=timeout, model=folder, precision=image.precision
                )
            except ImageRejectedError as exc:
                image.reject(ResultError(kind=exc.kind, reason=exc.reason))
                break
            except SuspectFailedError as exc:
                failure = exc
                continue
            except Exception as exc:
                image.fail("the isolated classifier failed unexpectedly", exc)
                break
            image.prediction, image.classified_by = prediction, prediction.model
            break
        else:
            image.fail(f"classified alone {tries} time{'s' * (tries > 1)}, {failure}")
            image.retry_now = True  # it fails alone, deterministically: spend its next receive now
        image.timings["isolated"] = _ms(time.perf_counter() - t0)
        image.data = None


def _run(classifier: ImageClassifier, call: list[Image]) -> None:
    """One inference call: decode straight into the batch tensor (no per-image array, no stacking
    copy), then infer."""
    pixels = np.empty((len(call), *classifier.input_shape), dtype=np.float32)
    ready: list[Image] = []
    for image in call:
        assert image.data is not None
        t0 = time.perf_counter()
        try:
            classifier.preprocess(image.data, out=pixels[len(ready)])
            ready.append(image)
        except ImageRejectedError as exc:
            image.reject(ResultError(kind=exc.kind, reason=exc.reason), classifier.name)
        except Exception as exc:
            image.fail("preprocessing failed unexpectedly", exc)
        image.timings["preprocess"] = _ms(time.perf_counter() - t0)
        image.data = None  # free the bytes early
    if not ready:
        return
    t0 = time.perf_counter()
    try:
        predictions = classifier.infer(pixels[: len(ready)])
    except Exception as exc:
        for image in ready:
            image.fail("inference failed", exc)
        return
    infer_ms = _ms(time.perf_counter() - t0)
    for image, prediction in zip(ready, predictions, strict=True):
        image.timings["infer"] = infer_ms
        image.prediction, image.classified_by = prediction, classifier.name


def within(deadline: float, futures: list[concurrent.futures.Future[None]]) -> bool:
    """Wait for every future until `deadline` (time.monotonic()); False if some are still running."""
    _, running = concurrent.futures.wait(futures, timeout=max(0.0, deadline - time.monotonic()))
    for future in running:
        future.cancel()  # not started yet: it never will be
    return not running
