"""The model behind the classifier port: the model's error kinds are the contract's own names."""

from __future__ import annotations

from typing import get_args

import pytest

from model import InvalidImageError, InvalidImageKind
from services.contract import ErrorKind
from services.ports.classifier import ImageRejectedError
from services.worker.classifier import UNKNOWN_KIND, load_classifier, rejection


@pytest.mark.parametrize("kind", get_args(InvalidImageKind))
def test_every_model_error_kind_is_a_client_error_of_the_contract(kind: str):
    error = rejection(InvalidImageError(kind, "why"))  # type: ignore[arg-type]
    assert error.kind.value == kind  # the wire keeps the model's words
    assert error.kind.is_client_error


def test_an_unknown_model_kind_still_becomes_a_client_error():
    error = rejection(InvalidImageError("blurry", "too blurry"))  # type: ignore[arg-type]
    assert (error.kind, error.reason) == (UNKNOWN_KIND, "too blurry")


def test_the_adapter_raises_the_port_error_with_the_contract_kind():
    classifier = load_classifier()
    with pytest.raises(ImageRejectedError) as caught:
        classifier.preprocess(b"")
    assert caught.value.kind is ErrorKind.EMPTY
    with pytest.raises(ImageRejectedError) as caught:
        classifier.preprocess(b"plain text, not an image")
    assert caught.value.kind.is_client_error and caught.value.reason
