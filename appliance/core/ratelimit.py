"""Attempts per client address: a token bucket each, so a flood is refused cheaply. The SFU
limits joins with it, the web process sign-ins and the calls made with each API token."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

MAX_TRACKED = 10000
LOOPBACK = ("127.0.0.1", "::1")


@dataclass
class _Bucket:
    tokens: float
    updated: float


class AddressLimiter:
    """Thread-safe: the web process checks sign-ins from its worker threads."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, address: str, now: float | None = None) -> bool:
        """Spend one attempt for `address`; False when it has none left."""
        return self.wait(address, now) == 0.0

    def wait(self, address: str, now: float | None = None) -> float:
        """Spend one attempt for `address` and answer 0.0; or, when it has none left, the
        seconds until it has one (what a `Retry-After` tells the client)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(address)
            if bucket is None:
                if len(self._buckets) >= MAX_TRACKED:
                    self._forget_full(now)
                bucket = self._buckets[address] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens < 1:
                return (1 - bucket.tokens) / self.rate
            bucket.tokens -= 1
            return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop addresses whose buckets have refilled: they carry no state worth keeping."""
        for address, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst:
                del self._buckets[address]


def client_address(peer: str, forwarded_for: str) -> str:
    """The client's address: behind the box's own reverse proxy (a loopback peer), the address
    it reports in X-Forwarded-For; the header is ignored from anyone else, who could forge it."""
    if forwarded_for and peer in LOOPBACK:
        return forwarded_for.split(",")[-1].strip()[:64]
    return peer
