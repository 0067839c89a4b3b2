"""Is a folder a model the service can serve? `evision model check PATH`.

A model is a folder: the ONNX file, its manifest (`metadata.json`: the file's name and sha256, the
input name and size, resize/crop, interpolation, mean/std, the labels file and class count, the
source), the labels, and golden images with their expected top-1 (`testdata/golden.json`). The
committed EfficientNet-Lite0 (this package's folder) is the first one.

Checks, in order, each failure one line (what, and what to fix); later checks that depend on a
failed one are skipped:
manifest readable -> model file present, sha256 as stated -> labels count = manifest's classes ->
the ONNX graph's input (name, 3 x H x W) and output (classes) as the manifest says -> each
variant's file present with its sha256 -> loads on every installed engine -> each golden image's
top-1 as expected, on every engine -> images/s.

A variant at a lower precision (the int8 file, `python -m model.quantize FOLDER`) is held to the
agreement rule against fp32 (model/agreement.py: the same top-1 wherever fp32 leads by > 0.05,
top-5 overlap, the precision's probability bound) and its figures are printed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model import engines
from model.engines import EngineName
from model.metadata import ModelMetadata, file_sha256, load_labels, load_metadata

GOLDEN_FILE = Path("testdata") / "golden.json"
TIMING_SECONDS = 0.5


@dataclass
class CheckReport:
    folder: Path
    failures: list[str] = field(default_factory=list)  # one line each
    passed: list[str] = field(default_factory=list)  # what was checked and held, one line each
    images_per_second: dict[str, float] = field(default_factory=dict)  # by engine
    model: str = ""  # name@version (the sha256's first 12 digits), once the manifest was read
    files: list[str] = field(default_factory=list)  # the folder's model files, relative (to copy)

    @property
    def ok(self) -> bool:
        return not self.failures


class _CheckFailedError(Exception):
    """A check failed; the later checks that need it are skipped."""


def check_model_folder(folder: Path, *, engine_names: list[EngineName] | None = None) -> CheckReport:
    report = CheckReport(folder)
    try:
        _run(folder, report, engine_names)
    except _CheckFailedError as failure:
        report.failures.append(str(failure))
    return report


def installed_engines(metadata: ModelMetadata | None = None) -> list[EngineName]:
    """The engines this machine can run the model on (int8: where its manifest has the variant)."""
    found: list[EngineName] = ["onnxruntime"]
    if metadata is not None and "int8" in metadata.variants:
        found.append("onnxruntime-int8")
    if engines.openvino_available():
        found.append("openvino")
    return found


def _run(folder: Path, report: CheckReport, engine_names: list[EngineName] | None) -> None:
    manifest = folder / "metadata.json"
    try:
        metadata = load_metadata(manifest)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise _CheckFailedError(
            f"manifest {manifest}: unreadable ({error}); write it as model/export.py does"
        ) from None
    report.passed.append(f"manifest: {metadata.short_name}, {metadata.num_classes} classes")
    report.model = metadata.short_name

    model_path = folder / metadata.model_file
    if not model_path.is_file():
        raise _CheckFailedError(f"model file {model_path} is missing (the manifest's model_file)")
    if (actual := file_sha256(model_path)) != metadata.sha256:
        raise _CheckFailedError(
            f"{model_path.name} has sha256 {actual[:12]}..., the manifest says {metadata.sha256[:12]}..."
        )
    report.passed.append(f"model file: {model_path.name}, sha256 as stated")

    try:
        load_labels(metadata, folder)
    except (OSError, ValueError) as error:
        raise _CheckFailedError(f"labels: {error}") from None
    report.passed.append(f"labels: {metadata.num_classes} names")

    _check_graph(model_path, metadata)
    report.passed.append(
        f"graph: input {metadata.input_name} 3x{metadata.input_size[0]}x{metadata.input_size[1]}"
    )

    for variant in metadata.variants.values():
        if not (path := folder / variant.file).is_file():
            raise _CheckFailedError(f"{variant.precision} file {path} is missing (the manifest's variants)")
        if file_sha256(path) != variant.sha256:
            raise _CheckFailedError(
                f"{path.name} has another sha256 than the manifest's; re-run python -m model.quantize"
            )
        report.passed.append(f"{variant.precision} file: {variant.file}, sha256 as stated")

    golden = _golden(folder)
    report.files = [
        "metadata.json",
        metadata.model_file,
        *(variant.file for variant in metadata.variants.values()),
        metadata.labels_file,
        GOLDEN_FILE.as_posix(),
        *((GOLDEN_FILE.parent / file).as_posix() for file, _ in golden),
    ]
    for name in engine_names or installed_engines(metadata):
        if name == "onnxruntime-int8":
            report.passed.append(
                _int8_agreement(model_path, [folder / GOLDEN_FILE.parent / f for f, _ in golden])
            )
            report.images_per_second[name] = _speed(
                model_path, name, folder / GOLDEN_FILE.parent / golden[0][0]
            )
            continue
        classify = _open(model_path, name)
        wrong = [
            f"{file} gave {got!r}, expected {expected!r}"
            for file, expected, got in ((f, e, classify(folder / GOLDEN_FILE.parent / f)) for f, e in golden)
            if got != expected
        ]
        if wrong:
            raise _CheckFailedError(
                f"golden images on {name}: {len(wrong)} of {len(golden)} disagree: {wrong[0]}"
            )
        report.passed.append(f"{name}: loads, {len(golden)} golden images as expected")
        report.images_per_second[name] = _speed(model_path, name, folder / GOLDEN_FILE.parent / golden[0][0])


def _check_graph(model_path: Path, metadata: ModelMetadata) -> None:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    except Exception as error:  # ONNX Runtime raises its own exception types
        raise _CheckFailedError(
            f"{model_path.name} does not load in ONNX Runtime: {str(error).splitlines()[0]}"
        ) from None
    [graph_input] = session.get_inputs()
    height, width = metadata.input_size
    if graph_input.name != metadata.input_name:
        raise _CheckFailedError(
            f"the graph's input is {graph_input.name!r}, the manifest says {metadata.input_name!r}"
        )
    if list(graph_input.shape[1:]) != [3, height, width]:
        raise _CheckFailedError(
            f"the graph's input shape is [{', '.join(map(str, graph_input.shape))}], the manifest says"
            f" [N, 3, {height}, {width}]"
            " (fix input_size, or re-export)"
        )
    outputs = {o.name: o.shape for o in session.get_outputs()}
    shape = outputs.get(metadata.output_name)
    if shape is None:
        raise _CheckFailedError(
            f"the graph has no output {metadata.output_name!r} (it has {sorted(outputs)})"
        )
    if shape[-1] != metadata.num_classes:
        raise _CheckFailedError(
            f"the graph outputs {shape[-1]} classes, the manifest says {metadata.num_classes}"
        )


def _golden(folder: Path) -> list[tuple[str, str]]:
    path = folder / GOLDEN_FILE
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        golden = [(str(r["file"]), str(r["expected_label"])) for r in records]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise _CheckFailedError(
            f"golden images {path}: unreadable ({error}); list file and expected_label"
        ) from None
    if not golden:
        raise _CheckFailedError(
            f"golden images {path}: none listed; add a few images with their expected top-1"
        )
    return golden


def _int8_agreement(model_path: Path, images: list[Path]) -> str:
    """The int8 variant against fp32 on the golden images, under the agreement rule."""
    from model.agreement import check_agreement
    from model.classifier import Classifier

    try:
        int8 = Classifier(model_path, engine="onnxruntime-int8")
    except Exception as error:  # ONNX Runtime's refusal, in its own words
        raise _CheckFailedError(f"the int8 variant does not load: {str(error).splitlines()[0]}") from None
    agreement = check_agreement(int8, Classifier(model_path), [path.read_bytes() for path in images])
    if not agreement.ok:
        raise _CheckFailedError(
            f"onnxruntime-int8 disagrees with fp32: {'; '.join(agreement.problems)}"
            " (re-quantize with more or other golden images)"
        )
    return f"onnxruntime-int8: agrees with fp32 on {agreement.images} golden images: {agreement.summary()}"


def _open(model_path: Path, engine: EngineName) -> Callable[[Path], str]:
    from model.classifier import Classifier

    try:
        classifier = Classifier(model_path, engine=engine, threads=1, intra_op_threads=1)
    except Exception as error:  # any engine's refusal, in its own words
        raise _CheckFailedError(
            f"{model_path.name} does not load on {engine}: {str(error).splitlines()[0]}"
        ) from None

    def top1(image: Path) -> str:
        batch = classifier.preprocess(image.read_bytes())[np.newaxis]
        return classifier.infer(batch)[0].label

    return top1


def _speed(model_path: Path, engine: EngineName, image: Path) -> float:
    """Images/s of one thread, batches of 4, for about TIMING_SECONDS."""
    from model.classifier import Classifier

    classifier = Classifier(model_path, engine=engine, threads=1, intra_op_threads=1)
    batch = np.repeat(classifier.preprocess(image.read_bytes())[np.newaxis], 4, axis=0)
    classifier.infer(batch)  # warm-up
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < TIMING_SECONDS:
        classifier.infer(batch)
        done += len(batch)
    return done / elapsed
