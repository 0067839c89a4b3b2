"""The int8 variant of a model folder's ONNX file: static QDQ quantization, calibrated on the folder's
own golden images (export time only: needs `onnx` and `sympy`, the service never imports this).

    python -m model.quantize [FOLDER]   # writes FOLDER/<model>.int8.onnx and records it in metadata.json

Recipe (FIELD-NOTES, issue #38): ONNX Runtime `quantize_static`, QDQ format, per-channel int8
weights, uint8 activations, percentile calibration; the first layer, which reads the pixels,
stays fp32. Measured on the golden images (2026-12-06): with every layer int8 the near tie
cat.jpg (fp32: Egyptian cat 0.397, tiger cat 0.349) flipped; with the first conv in fp32 all 6
keep fp32's top-1 (Egyptian cat 0.414 against 0.346), the largest probability difference is 0.066
(0.050 all int8, 0.068 with the classifier head fp32 too, which also doubles the file to 9 MB),
and the speed is the same within this machine's noise. DYNAMIC quantization is 3-15x slower
than fp32 here, so it is not offered.

Calibration uses only images that ship with the model (no download): each golden image and
light augmentations of it (mirror, zoom, brightness, contrast), so a folder with 6 images still
gives the calibrator 36 inputs. Every step is deterministic (no
random augmentation, histogram calibration): the same folder gives the same bytes.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from model.golden import golden_files
from model.metadata import MODEL_DIR, ModelMetadata, Variant, file_sha256, load_metadata
from model.preprocess import Preprocessor

PERCENTILE = 99.99  # of each activation's histogram: clips rare outliers that would waste the 8 bits

Augment = Callable[[Image.Image], Image.Image]


def _zoom(factor: float) -> Augment:
    def zoom(image: Image.Image) -> Image.Image:
        width, height = image.size
        crop_w, crop_h = width * factor, height * factor
        left, top = (width - crop_w) / 2, (height - crop_h) / 2
        return image.crop((round(left), round(top), round(left + crop_w), round(top + crop_h)))

    return zoom


# Light, label-keeping changes a user's photo could show: the calibrator sees a range of
# activations wider than the golden images alone, without leaving natural images.
AUGMENTATIONS: dict[str, Augment] = {
    "original": lambda image: image,
    "mirror": ImageOps.mirror,
    "zoom 0.8": _zoom(0.8),
    "brightness 0.8": lambda image: ImageEnhance.Brightness(image).enhance(0.8),
    "brightness 1.2": lambda image: ImageEnhance.Brightness(image).enhance(1.2),
    "contrast 0.8": lambda image: ImageEnhance.Contrast(image).enhance(0.8),
}


def calibration_inputs(folder: Path, metadata: ModelMetadata) -> np.ndarray:
    """(N, 3, H, W) float32: every golden image under every augmentation, in a fixed order."""
    preprocess = Preprocessor(metadata)
    tensors = [
        preprocess.normalise(preprocess.resize_crop(augment(preprocess.decode(path.read_bytes()))))
        for path in golden_files(folder)
        for augment in AUGMENTATIONS.values()
    ]
    return np.stack(tensors)


class _Reader:
    """onnxruntime.quantization's CalibrationDataReader: one image's augmentations per batch (the
    histogram collector needs batches of one size)."""

    def __init__(self, input_name: str, inputs: np.ndarray) -> None:
        size = len(AUGMENTATIONS)
        self._batches: Iterator[np.ndarray] = iter(
            [inputs[i : i + size] for i in range(0, len(inputs), size)]
        )
        self._input_name = input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {self._input_name: batch}

    def rewind(self) -> None:  # the percentile calibrator reads the data once
        raise NotImplementedError


def _first_layers(model_path: Path) -> list[str]:
    """The weighted layers (Conv, Gemm, MatMul) that read the graph's input: the pixels."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    inputs = {i.name for i in graph.input}
    return [
        node.name
        for node in graph.node
        if node.op_type in {"Conv", "Gemm", "MatMul"} and set(node.input) & inputs
    ]


def int8_file_name(model_file: str) -> str:
    return f"{Path(model_file).stem}.int8.onnx"


def quantize_folder(folder: Path = MODEL_DIR) -> Variant:
    """Write the int8 variant next to the fp32 model and record it in the folder's metadata.json."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    manifest = folder / "metadata.json"
    metadata = load_metadata(manifest)
    source = folder / metadata.model_file
    if file_sha256(source) != metadata.sha256:
        raise ValueError(f"{source} is not the model metadata.json describes (sha256 differs)")
    inputs = calibration_inputs(folder, metadata)
    target = folder / int8_file_name(metadata.model_file)
    with tempfile.TemporaryDirectory() as tmp:
        # Shape inference and fusions first (ONNX Runtime's advice): the quantizer then sees
        # Conv+Relu6 as one node and places fewer QDQ pairs.
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        kept_fp32 = _first_layers(prepared)
        quantize_static(
            str(prepared),
            str(target),
            _Reader(metadata.input_name, inputs),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": PERCENTILE},
            nodes_to_exclude=kept_fp32,
        )
    variant = Variant(
        file=target.name,
        sha256=file_sha256(target),
        precision="int8",
        calibration={
            "method": f"ONNX Runtime static QDQ, per-channel int8 weights, uint8 activations, "
            f"percentile {PERCENTILE}; fp32 kept for {', '.join(kept_fp32) or 'no node'}",
            "images": f"{len(inputs) // len(AUGMENTATIONS)} golden images x "
            f"{len(AUGMENTATIONS)} ({', '.join(AUGMENTATIONS)})",
            "inputs": str(len(inputs)),
        },
    )
    variants = {**metadata.variants, variant.precision: variant}
    manifest.write_text(dataclasses.replace(metadata, variants=variants).to_json(), encoding="utf-8")
    return variant


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "folder", type=Path, nargs="?", default=MODEL_DIR, help="model folder (default: model/)"
    )
    args = parser.parse_args(argv)
    variant = quantize_folder(args.folder)
    size = (args.folder / variant.file).stat().st_size / 1e6
    print(f"wrote {args.folder / variant.file} ({size:.1f} MB, sha256 {variant.sha256[:12]}...)")
    print(f"  calibration: {variant.calibration['images']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
