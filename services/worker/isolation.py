"""Suspect images are classified in a helper process, so a poison image takes nobody with it.

A message received again (receive count > 1) was in hand when something went wrong: a worker
died, or its batch ran past the deadline. Its batch-mates were charged a receive for whatever
one of them did. Classifying each suspect alone, in a separate process, makes only the image that
really crashes (a decoder segfault, memory exhaustion) or hangs use up its own receives: the
worker survives it, the suspect fails (and is retried, then dead-lettered), and nothing else in
hand is lost.

The helper is started on the first suspect (it loads the model: ~1 s), kept for later suspects,
and replaced when a suspect kills it or outlives its time. It is a `spawn`ed process, not a
fork: the worker's threads (heartbeat, executors, the engine's own) do not survive a fork.
It serves every model: the worker's default, and a registered one from the folder the worker
downloaded it into (loaded on the first suspect that names it; one at a time besides the
default, so its memory stays that of two models), at the precision the request pinned.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np

from services.contract import ErrorKind, Precision
from services.ports.classifier import ImageClassifier, ImageRejectedError
from services.worker.settings import WorkerSettings

log = logging.getLogger("services.worker")


class SuspectFailedError(Exception):
    """The suspect crashed or hung its helper process (it is retried, then dead-lettered)."""


@dataclass(frozen=True, slots=True)
class IsolatedPrediction:
    model: str  # the classifier's name: model@version and engine
    label: str
    score: float
    top5: tuple[tuple[str, float], ...]


def _serve(connection: Connection, settings: WorkerSettings) -> None:
    """The helper: (model folder or None for the default, precision, image) in, one answer out,
    until the worker closes the pipe."""
    from services.worker.classifier import classifier_for, folder_loader, pinned_loader
    from services.worker.model_pool import serves

    default = classifier_for(settings, threads=1)
    one_thread = settings.model_copy(update={"threads": 1})
    load, pin = folder_loader(one_thread), pinned_loader(one_thread)
    other: tuple[tuple[str | None, Precision], ImageClassifier] | None = None  # the last other asked for
    connection.send(("ready", default.name))
    while True:
        try:
            folder, precision, data = connection.recv()
        except EOFError:
            return
        try:
            if folder is None and serves(default, precision):
                classifier = default
            else:
                if other is None or other[0] != (folder, precision):
                    other = None  # the previous one goes before the next loads
                    path = None if folder is None else Path(folder)
                    loaded = load(path) if path is not None and precision == "auto" else pin(path, precision)
                    other = ((folder, precision), loaded)
                classifier = other[1]
            pixels = np.empty((1, *classifier.input_shape), dtype=np.float32)
            classifier.preprocess(data, out=pixels[0])
            (prediction,) = classifier.infer(pixels)
            answer: tuple[Any, ...] = (
                "ok",
                classifier.name,
                prediction.label,
                float(prediction.score),
                tuple((label, float(score)) for label, score in prediction.top5),
            )
        except ImageRejectedError as error:
            answer = ("rejected", error.kind.value, error.reason)
        except Exception as error:  # reported to the worker, which logs it with the message id
            answer = ("error", f"{type(error).__name__}: {error}")
        connection.send(answer)


class Isolator:
    """Classifies one image at a time in the helper process. Thread-safe (one image at a time)."""

    START_SECONDS = 120.0  # loading the model in a fresh interpreter: ~1 s here; generous on a busy host

    def __init__(self, settings: WorkerSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self.started = 0  # helpers started (tests and logs)

    def classify(
        self, data: bytes, timeout: float, model: Path | None = None, precision: Precision = "auto"
    ) -> IsolatedPrediction:
        """The prediction by the default model, or by the registered one in folder `model`, at a
        pinned `precision` (auto: the worker's engine);
        ImageRejectedError for an unreadable image; SuspectFailedError if the image crashed the
        helper or took longer than `timeout` seconds (or the model would not load)."""
        with self._lock:
            connection = self._ready()
            connection.send((None if model is None else str(model), precision, data))
            try:
                if not connection.poll(timeout):
                    self._discard()
                    raise SuspectFailedError(f"still running after {timeout:g} s in isolation")
                answer = connection.recv()
            except (EOFError, OSError):
                code = self._discard()
                raise SuspectFailedError(f"it crashed the isolated classifier (exit {code})") from None
        if answer[0] == "ok":
            return IsolatedPrediction(*answer[1:])
        if answer[0] == "rejected":
            raise ImageRejectedError(ErrorKind(answer[1]), answer[2])
        raise SuspectFailedError(answer[1])

    def _ready(self) -> Connection:
        if self._connection is not None and self._process is not None and self._process.is_alive():
            return self._connection
        self._discard()
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve, args=(theirs, self._settings), name="evision-isolated", daemon=True
        )
        process.start()
        theirs.close()
        self._process, self._connection = process, ours
        self.started += 1
        if not ours.poll(self.START_SECONDS):
            self._discard()
            raise SuspectFailedError("the isolated classifier did not start")
        try:
            ours.recv()  # ("ready", name)
        except EOFError:
            code = self._discard()
            raise SuspectFailedError(f"the isolated classifier exited at start ({code})") from None
        log.info("isolated classifier started (pid %s) for redelivered messages", process.pid)
        return ours

    def _discard(self) -> int | None:
        """Stop the helper (killed if it does not exit); its exit code."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            connection.close()
        if process is None:
            return None
        if process.is_alive():
            process.kill()
        process.join(5)
        return process.exitcode

    def close(self) -> None:
        with self._lock:
            self._discard()
