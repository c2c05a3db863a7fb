"""Join attempts per client address: a token bucket, so a flood is refused cheaply."""

from __future__ import annotations

import time
from dataclasses import dataclass

MAX_TRACKED = 10000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class JoinLimiter:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, address: str, now: float | None = None) -> bool:
        """Spend one attempt for `address`; False when it has none left."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._forget_full(now)
            bucket = self._buckets[address] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _forget_full(self, now: float) -> None:
        """Drop addresses whose buckets have refilled: they carry no state worth keeping."""
        for address, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst:
                del self._buckets[address]
