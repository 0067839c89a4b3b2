"""The model's metadata (model/metadata.json): what the ONNX file is and how its input must be prepared.

Preprocessing is data, not code: model/preprocess.py reads the sizes, the crop policy, the
interpolation and mean/std from here, so a re-export with other settings needs no code change.
Stdlib-only on purpose (the runtime needs only onnxruntime, numpy and Pillow).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

MODEL_DIR = Path(__file__).resolve().parent
DEFAULT_METADATA_PATH = MODEL_DIR / "metadata.json"
DEFAULT_MODEL_PATH = MODEL_DIR / "efficientnet_lite0.onnx"

Interpolation = Literal["nearest", "bilinear", "bicubic", "lanczos"]


@dataclass(frozen=True, slots=True)
class Variant:
    """Another file of the same model at a lower precision (model/quantize.py makes the int8 one)."""

    file: str  # next to metadata.json
    sha256: str
    precision: str  # "int8"
    calibration: dict[str, str] = field(default_factory=dict)  # how it was made, for the record


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    name: str  # e.g. "efficientnet-lite0"
    model_file: str  # file name next to metadata.json
    sha256: str  # of the model file
    opset: int
    input_name: str
    output_name: str
    input_size: tuple[int, int]  # (height, width) fed to the network
    resize_shorter_side: int  # the shorter side is resized to this, keeping the aspect ratio...
    crop: Literal["center"]  # ...then this crop of input_size is taken
    interpolation: Interpolation
    mean: tuple[float, float, float]  # per RGB channel, on the 0..255 pixel scale
    std: tuple[float, float, float]  # per RGB channel, on the 0..255 pixel scale
    labels_file: str  # one human-readable class name per line, in logit order
    num_classes: int
    source: dict[str, str] = field(default_factory=dict)  # packages and versions the export used
    variants: dict[str, Variant] = field(default_factory=dict)  # by precision; absent in older manifests

    @property
    def short_name(self) -> str:
        """Model name plus a content hash prefix: identifies the exact weights in every result."""
        return f"{self.name}@{self.sha256[:12]}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelMetadata:
        raw = dict(raw)
        for key in ("input_size", "mean", "std"):
            raw[key] = tuple(raw[key])
        raw["variants"] = {name: Variant(**variant) for name, variant in raw.get("variants", {}).items()}
        return cls(**raw)


def load_metadata(path: Path | None = None) -> ModelMetadata:
    """Read metadata.json (by default the committed one next to this module)."""
    path = path or DEFAULT_METADATA_PATH
    return ModelMetadata.from_dict(json.loads(path.read_text(encoding="utf-8")))


def metadata_path_for(model_path: Path) -> Path:
    """A model's metadata lives next to it as metadata.json."""
    return model_path.parent / "metadata.json"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_labels(metadata: ModelMetadata, directory: Path | None = None) -> tuple[str, ...]:
    """The class names in logit order; checks their count against the metadata."""
    path = (directory or MODEL_DIR) / metadata.labels_file
    labels = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(labels) != metadata.num_classes:
        raise ValueError(f"{path} has {len(labels)} labels, the metadata says {metadata.num_classes}")
    return labels
