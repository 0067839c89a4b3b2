"""The models a worker serves: its default, and registered ones loaded on first use into an LRU.

A request names a model as name@version (the web tier resolves aliases before sending). The
first request for a model downloads its folder from the registry into this process's cache and
loads it on the worker's engine; later ones reuse it. Past `budget_mib` of estimated memory the
least recently used registered model is dropped (the default always stays). A model's memory is
estimated as `FOOTPRINT_FACTOR` x its ONNX file (the weights, their engine copy and the session's
arenas: ~87 MiB of resident memory per EfficientNet-Lite1/2, 22-25 MB files, measured here on
2026-12-04), and room is made BEFORE a model is loaded, so the two never overlap.

A request may pin a precision (`fp32`, `int8`) whatever engine the worker chose: a model at a
pinned precision is another entry, keyed `name@version precision`, loaded by `pin` on first use.
Where the default (or a registered model's loaded copy) already runs at it (on ONNX Runtime fp32,
say) that copy serves; else the default at a pinned precision stays loaded beside it (at most one
more copy per precision).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from model import load_metadata
from services.contract import Precision
from services.models.errors import UnknownModelError
from services.ports.classifier import ImageClassifier
from services.ports.models import ModelRegistry

log = logging.getLogger("services.worker")
FOOTPRINT_FACTOR = 4.0


class ModelPool:
    def __init__(
        self,
        default: ImageClassifier,
        *,
        registry: ModelRegistry | None,
        load: Callable[[Path], ImageClassifier],
        budget_mib: float,
        estimate: Callable[[Path], float] | None = None,
        pin: Callable[[Path | None, Precision], ImageClassifier] | None = None,
    ) -> None:
        """`load(folder)` opens a model folder; `estimate(folder)` is the MiB it will take
        (default: from the model file's size), known before it is loaded; `pin(folder or None for
        the default, precision)` opens a model at a pinned precision (None: no pins here)."""
        self.default = default
        self._registry = registry
        self._load = load
        self._pin = pin
        self._default_pins: dict[Precision, ImageClassifier] = {}
        self._estimate = estimate or estimated_mib
        self._budget = budget_mib
        # ref -> (classifier, estimated MiB, its downloaded folder, deleted when it is dropped)
        self._loaded: OrderedDict[str, tuple[ImageClassifier, float, Path]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._cache: Path | None = None
        self.loads = 0
        self.evictions = 0

    def is_default(self, ref: str | None) -> bool:
        return ref is None or self.default.ref == ref

    def get(self, ref: str | None, precision: Precision = "auto") -> ImageClassifier:
        if ref is None or self.is_default(ref):
            return self.default if serves(self.default, precision) else self._default_at(precision)
        with self._lock:
            own = self._loaded.get(ref)
        if precision == "auto" or (own is not None and serves(own[0], precision)):
            return self._registered(ref, ref, self._load)  # the worker's own copy (it runs at the pin)
        return self._registered(_key(ref, precision), ref, lambda folder: self._pinned(folder, precision))

    def _registered(self, key: str, ref: str, load: Callable[[Path], ImageClassifier]) -> ImageClassifier:
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key][0]
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # one download and load per model, however many threads ask at once
            with self._lock:
                if key in self._loaded:
                    return self._loaded[key][0]
            folder = self._download(ref)
            mib = self._estimate(folder)
            self._make_room(mib)  # before loading: old and new never overlap
            try:
                classifier = load(folder)
            except BaseException:  # a refused load (an int8 pin without the variant) leaves nothing
                shutil.rmtree(folder, ignore_errors=True)
                raise
            log.info("model %s loaded (~%.0f MiB)", classifier.name, mib)
            with self._lock:
                self._loaded[key] = (classifier, mib, folder)
                self.loads += 1
            return classifier

    def _default_at(self, precision: Precision) -> ImageClassifier:
        """The default model at a pinned precision: loaded once, then kept as the default is."""
        with self._lock:
            if precision in self._default_pins:
                return self._default_pins[precision]
            gate = self._loading.setdefault(_key(None, precision), threading.Lock())
        with gate:
            with self._lock:
                if precision in self._default_pins:
                    return self._default_pins[precision]
            classifier = self._pinned(None, precision)
            log.info("model %s loaded for requests that pin %s", classifier.name, precision)
            with self._lock:
                self._default_pins[precision] = classifier
            return classifier

    def _pinned(self, folder: Path | None, precision: Precision) -> ImageClassifier:
        if self._pin is None:
            raise UnknownModelError(f"this worker serves no pinned precision ({precision})")
        return self._pin(folder, precision)

    def folder(self, ref: str | None, precision: Precision = "auto") -> Path | None:
        """Where the isolation helper loads model `ref` from: a registered model's downloaded
        folder (loaded first if it is not), or None for the default (the helper has its own;
        loaded here at a pinned precision first, so a model without it is refused here)."""
        if ref is None or self.is_default(ref):
            self.get(ref, precision)
            return None
        self.get(ref, precision)
        key = ref if precision == "auto" else _key(ref, precision)
        with self._lock:
            entry = self._loaded.get(key)
        if entry is None:  # dropped at once for another model: the caller's message comes back
            raise RuntimeError(f"model {ref} was dropped while in use")
        return entry[2]

    def _make_room(self, needed: float) -> None:
        with self._lock:
            while self._loaded and sum(m for _, m, _ in self._loaded.values()) + needed > self._budget:
                dropped, (_, _, folder) = self._loaded.popitem(last=False)
                shutil.rmtree(folder, ignore_errors=True)  # its session holds the weights already
                self.evictions += 1
                log.info("model %s dropped (least recently used; budget %g MiB)", dropped, self._budget)

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._loaded)

    def _download(self, ref: str) -> Path:
        if self._registry is None:
            raise UnknownModelError(f"no model {ref}: this worker has no registry")
        if self._cache is None:
            self._cache = Path(tempfile.mkdtemp(prefix="evision-models-"))
        into = Path(tempfile.mkdtemp(dir=self._cache))  # a fresh folder per load: nothing stale
        try:
            return self._registry.download(ref, into)
        except LookupError as exc:
            shutil.rmtree(into, ignore_errors=True)
            raise UnknownModelError(str(exc)) from None

    def close(self) -> None:
        if self._cache is not None:
            shutil.rmtree(self._cache, ignore_errors=True)


def serves(classifier: ImageClassifier, precision: Precision) -> bool:
    """Whether `classifier` answers a request for `precision`: any does for auto; a pin wants
    ONNX Runtime at that precision."""
    return precision == "auto" or classifier.engine == f"onnxruntime-{precision}"


def _key(ref: str | None, precision: Precision) -> str:
    return f"{ref or 'default'} {precision}"


def estimated_mib(folder: Path) -> float:
    """A model folder's resident memory once loaded, estimated from its ONNX file's size."""
    model_file = folder / load_metadata(folder / "metadata.json").model_file
    return FOOTPRINT_FACTOR * model_file.stat().st_size / 2**20
