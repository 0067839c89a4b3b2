"""A per-client token bucket: `rate` requests per second on average, bursts of `burst`.

Per web process (each has its own buckets): N processes behind a load balancer let a client
through at up to N x `rate`; the cloud's optional WAF rate-based rule bounds a client across all
of them. Buckets live in a bounded LRU map, so a flood of distinct clients costs bounded memory
(an evicted client starts again with a full bucket).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

MAX_CLIENTS = 100_000


class RateLimiter:
    def __init__(self, rate: float, burst: int, *, max_clients: int = MAX_CLIENTS) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> tokens, at

    def retry_after(self, client: str, now: float | None = None) -> int:
        """0 if this request may go (a token is taken), else whole seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.pop(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        wait = 0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = max(1, math.ceil((1 - tokens) / self._rate))
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return wait
