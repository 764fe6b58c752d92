"""Per-API-key rate limiting: an in-process token bucket; and the client address that
per-address limits (``/find``, failed key checks) go by.

Each key gets a bucket of ``per_minute`` tokens refilled continuously at ``per_minute / 60``
tokens a second; a request takes one token or is refused with the seconds until the next one.
The buckets live in the worker's memory, so with ``--workers N`` a key may send up to N times
the limit in all (documented in docs/api.md); a shared limiter would need the database or Redis
on every request, which the limit exists to protect.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable, Iterable

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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


def proxy_networks(entries: Iterable[object]) -> tuple[Network, ...]:
    """``Settings.trusted_proxies`` (networks, or addresses and CIDRs as text) as networks."""
    return tuple(ipaddress.ip_network(str(entry).strip(), strict=False) for entry in entries)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a peer or an ``X-Forwarded-For`` hop gives it (``[v6]:port`` and
    ``v4:port`` too), or None when it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def client_address(scope: Scope, trusted: tuple[Network, ...] = ()) -> str:
    """The address a request comes from, for per-client limits.

    The connecting peer, unless it is a trusted proxy: then ``X-Forwarded-For`` is read from
    the right (each proxy appends the address it was reached from) and the first hop that is
    not a trusted proxy is the client. Hops left of it are whatever the client sent, so a
    client cannot choose its address by sending the header; from an untrusted peer the header
    is ignored. A hop that is not an address stops the walk at the proxy before it (the
    limit then falls on that proxy, never on a name the sender chose).
    """
    peer = (scope.get("client") or ("?", 0))[0]
    current = _address(peer)
    if current is None or not _trusted(current, trusted):
        return peer
    hops = [
        hop
        for name, value in scope.get("headers", [])
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        current = address
        if not _trusted(address, trusted):
            break
    return str(current)


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: tuple[Network, ...]
) -> bool:
    return any(address.version == net.version and address in net for net in trusted)
