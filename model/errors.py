"""The one error type for images the classifier refuses, with a machine kind and a human reason."""

from __future__ import annotations

from typing import Literal

# The same strings as services.contract.ErrorKind (model/ does not import services/).
InvalidImageKind = Literal[
    "empty",
    "not_an_image",
    "unsupported_format",
    "truncated",
    "corrupt",
    "too_many_pixels",
    "bad_aspect_ratio",
]


class InvalidImageError(ValueError):
    """An input that cannot be classified: `kind` says which way, `reason` (== str(err)) says why."""

    def __init__(self, kind: InvalidImageKind, reason: str) -> None:
        super().__init__(reason)
        self.kind: InvalidImageKind = kind
        self.reason = reason

    def __repr__(self) -> str:
        return f"InvalidImageError(kind={self.kind!r}, reason={self.reason!r})"

    def __reduce__(self) -> tuple[type[InvalidImageError], tuple[str, str]]:
        # Picklable across process pools: rebuild from both fields, not from args alone.
        return (type(self), (self.kind, self.reason))
