"""API keys: which ones are valid, and a constant-time check of the one a client presents.

Keys come from a file locally (`EVISION_API_KEYS_FILE`, one per line, `#` comments) or from the
backend's secret store in the cloud (`EVISION_API_KEYS_PARAMETER`: an SSM SecureString holding
one key per line or comma-separated). Only their SHA-256 digests are kept in memory; a presented
key is hashed and compared with every digest by `hmac.compare_digest`, so neither the time taken
nor an early exit tells how much of a key matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable

from services.web.settings import WebSettings

MIN_KEY_LENGTH = 16  # shorter keys could be guessed (and rate limits are per process)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    def __init__(self, keys: Iterable[str]) -> None:
        keys = [key for key in keys if key]
        short = [key for key in keys if len(key) < MIN_KEY_LENGTH]
        if short:
            raise ValueError(f"{len(short)} API keys are shorter than {MIN_KEY_LENGTH} characters")
        if not keys:
            raise ValueError("API keys are enabled but none is configured")
        self._digests = [_digest(key) for key in keys]

    def __len__(self) -> int:
        return len(self._digests)

    def client_of(self, presented: str | None) -> str | None:
        """The client a valid key names (a short digest, for its rate limit), or None if invalid."""
        if not presented:
            return None
        digest = _digest(presented)
        found = False
        for known in self._digests:  # no early exit
            found |= hmac.compare_digest(digest, known)
        return "key:" + digest.hex()[:16] if found else None

    def valid(self, presented: str | None) -> bool:
        return self.client_of(presented) is not None


def parse_keys(text: str) -> list[str]:
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return [key for line in lines for key in re.split(r"[,\s]+", line.strip()) if key]


def load_api_keys(settings: WebSettings, read_secret: Callable[[str], str]) -> ApiKeys | None:
    """The configured keys, or None when API keys are off (neither source is set)."""
    texts = []
    if settings.api_keys_file is not None:
        texts.append(settings.api_keys_file.read_text())
    if settings.api_keys_parameter is not None:
        texts.append(read_secret(settings.api_keys_parameter))
    if not texts:
        return None
    return ApiKeys(key for text in texts for key in parse_keys(text))
