from __future__ import annotations

import pytest

from services.loadgen.expectations import parse_expectations


def test_names_and_stems_both_match_uploads() -> None:
    expect = parse_expectations("image_name,label\ntest_0.JPEG,goldfish\ntest_1,tabby\n\n# comment\n")
    assert len(expect) == 2
    assert expect.expected("test_0.JPEG") == "goldfish"
    assert expect.expected("test_0.png") == "goldfish"
    assert expect.expected("test_1.jpg") == "tabby"
    assert expect.expected("test_2.jpg") is None


def test_labels_may_contain_commas_when_quoted() -> None:
    assert parse_expectations('a.jpg,"crane, bird"\n').expected("a.jpg") == "crane, bird"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.jpg\n", ":1: expected 'image_name,label'"),
        ("a.jpg,x,y\n", ":1: expected"),
        ("a.jpg,\n", "empty"),
        ("a.jpg,x\na.png,y\n", ":2: conflicting"),
        ("image_name,label\n", "no expectations"),
    ],
)
def test_malformed_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_expectations(text)
