"""The committed model on the golden images: labels, logits, batching, integrity."""

from __future__ import annotations

import numpy as np
import pytest

from model.classifier import Classifier, Prediction
from model.golden import GoldenImage, golden_by_name, load_golden
from model.metadata import DEFAULT_MODEL_PATH, file_sha256, load_labels, load_metadata

GOLDEN = load_golden()
CAT_CLASSES = {"Egyptian cat", "tabby", "tiger cat", "Persian cat", "Siamese cat"}
COFFEE_CLASSES = {"espresso", "cup", "coffee mug"}


def test_golden_set_is_real_and_small() -> None:
    assert len(GOLDEN) >= 6
    assert sum(g.path.stat().st_size for g in GOLDEN) < 2_000_000
    assert golden_by_name()["cat.jpg"].expected_label in CAT_CLASSES
    assert golden_by_name()["coffee.jpg"].expected_label in COFFEE_CLASSES


@pytest.mark.parametrize("golden", GOLDEN, ids=lambda g: g.name)
def test_golden_top1_and_logits(classifier: Classifier, golden: GoldenImage) -> None:
    pixels = classifier.preprocess(golden.read_bytes())
    logits = classifier.logits(pixels[None])[0]
    np.testing.assert_allclose(logits, np.asarray(golden.logits, dtype=np.float32), rtol=0, atol=1e-3)
    (prediction,) = classifier.infer(pixels[None])
    assert prediction.label == golden.expected_label
    assert prediction.score == pytest.approx(golden.score, abs=1e-4)


def test_cat_and_coffee_are_recognised(classifier: Classifier) -> None:
    by_name = golden_by_name()
    cat, coffee = classifier.classify([by_name["cat.jpg"].read_bytes(), by_name["coffee.jpg"].read_bytes()])
    assert isinstance(cat, Prediction) and cat.label in CAT_CLASSES
    assert isinstance(coffee, Prediction) and coffee.label in COFFEE_CLASSES
    assert coffee.score > 0.5


def test_prediction_shape(classifier: Classifier) -> None:
    (prediction,) = classifier.classify([GOLDEN[0].read_bytes()])
    assert isinstance(prediction, Prediction)
    assert len(prediction.top5) == 5
    scores = [score for _, score in prediction.top5]
    assert scores == sorted(scores, reverse=True)
    assert (prediction.label, prediction.score) == prediction.top5[0]
    assert 0 < sum(scores) <= 1 + 1e-9


def test_batch_of_n_equals_n_singles(classifier: Classifier) -> None:
    pixels = np.stack([classifier.preprocess(g.read_bytes()) for g in GOLDEN])
    batched = classifier.logits(pixels)
    singles = np.concatenate([classifier.logits(p[None]) for p in pixels])
    np.testing.assert_allclose(batched, singles, rtol=0, atol=1e-4)
    assert [getattr(p, "label", None) for p in classifier.classify([g.read_bytes() for g in GOLDEN])] == [
        g.expected_label for g in GOLDEN
    ]


def test_classify_keeps_invalid_images_in_place(classifier: Classifier) -> None:
    cat, coffee = golden_by_name()["cat.jpg"], golden_by_name()["coffee.jpg"]
    results = classifier.classify([b"", cat.read_bytes(), b"not an image", coffee.read_bytes()])
    kinds = [getattr(r, "kind", None) for r in results]
    labels = [getattr(r, "label", None) for r in results]
    assert kinds == ["empty", None, "not_an_image", None]
    assert labels == [None, cat.expected_label, None, coffee.expected_label]
    assert classifier.classify([]) == []


def test_infer_rejects_a_wrong_batch(classifier: Classifier) -> None:
    with pytest.raises(ValueError, match="shape"):
        classifier.infer(np.zeros((1, 3, 100, 100), dtype=np.float32))
    with pytest.raises(ValueError, match="float32"):
        classifier.infer(np.zeros((1, 3, 224, 224), dtype=np.float64))


def test_committed_model_matches_its_metadata(classifier: Classifier) -> None:
    metadata = load_metadata()
    assert file_sha256(DEFAULT_MODEL_PATH) == metadata.sha256
    assert DEFAULT_MODEL_PATH.name == metadata.model_file
    assert not DEFAULT_MODEL_PATH.with_name(DEFAULT_MODEL_PATH.name + ".data").exists()  # one file
    assert (
        classifier.name == f"efficientnet-lite0@{metadata.sha256[:12]} onnxruntime-fp32"
    )  # weights + engine


def test_a_model_that_does_not_match_its_metadata_is_refused(tmp_path) -> None:
    metadata = load_metadata()
    (tmp_path / "metadata.json").write_text(metadata.to_json())
    (tmp_path / metadata.labels_file).write_text("\n".join(load_labels(metadata)))
    (tmp_path / metadata.model_file).write_bytes(DEFAULT_MODEL_PATH.read_bytes()[:-1] + b"\0")
    with pytest.raises(ValueError, match="sha256"):
        Classifier(tmp_path / metadata.model_file)


def test_labels_are_human_readable() -> None:
    labels = load_labels(load_metadata())
    assert len(labels) == len(set(labels)) == 1000
    assert labels[285] == "Egyptian cat"
    assert not any(label.startswith("n0") and label[1:].isdigit() for label in labels)
