"""Per-API-key rate limiting: an in-process token bucket.

Each key gets a bucket of ``per_minute`` tokens refilled continuously at ``per_minute / 60``
tokens a second; a request takes one token or is refused with the seconds until the next one.
The buckets live in the worker's memory, so with ``--workers N`` a key may send up to N times
the limit in all (documented in docs/api.md); a shared limiter would need the database or Redis
on every request, which the limit exists to protect.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Token buckets keyed by API key id; thread-safe (dependencies run in the threadpool)."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[object, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: object) -> float:
        """Take a token for ``key``: 0.0 when allowed, else the seconds to wait before retrying."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait_seconds: float) -> str:
        """``Retry-After`` value: whole seconds, at least 1."""
        return str(max(1, math.ceil(wait_seconds)))
