"""The model behind the classifier port: every model error kind maps to a contract error kind."""

from __future__ import annotations

from typing import get_args

import pytest

from model.errors import InvalidImageError, InvalidImageKind
from services.contract import ErrorKind
from services.ports import ImageRejectedError
from services.worker.model_classifier import ERROR_KINDS, UNMAPPED_KIND, load_classifier, rejection


def test_every_model_error_kind_maps_to_a_client_error_of_the_contract():
    assert set(ERROR_KINDS) == set(get_args(InvalidImageKind))
    for kind, contract_kind in ERROR_KINDS.items():
        assert contract_kind.is_client_error
        assert contract_kind.value == kind  # the wire keeps the model's words


def test_an_unknown_model_kind_still_becomes_a_client_error():
    error = rejection(InvalidImageError("blurry", "too blurry"))  # type: ignore[arg-type]
    assert (error.kind, error.reason) == (UNMAPPED_KIND, "too blurry")


def test_the_adapter_raises_the_port_error_with_the_contract_kind():
    classifier = load_classifier()
    with pytest.raises(ImageRejectedError) as caught:
        classifier.preprocess(b"")
    assert caught.value.kind is ErrorKind.EMPTY
    with pytest.raises(ImageRejectedError) as caught:
        classifier.preprocess(b"plain text, not an image")
    assert caught.value.kind.is_client_error and caught.value.reason
