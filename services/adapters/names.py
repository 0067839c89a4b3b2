"""Validation of blob keys and bucket/queue names: they become file names in local mode."""

from __future__ import annotations

import re

from services.adapters.errors import InvalidKeyError

_SAFE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")


def check_name(value: str, what: str = "key") -> str:
    """Return `value` if it is a safe single path component, else raise InvalidKeyError.

    No separators, no leading dot (so no `.`/`..`, no hidden files), at most 255 characters.
    """
    if not isinstance(value, str) or not _SAFE.fullmatch(value):
        raise InvalidKeyError(f"invalid {what} {value!r}: use 1-255 of [A-Za-z0-9._-], not starting with '.'")
    return value
