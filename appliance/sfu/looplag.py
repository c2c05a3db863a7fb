"""Event-loop lag: how late a short sleep wakes up. Forwarding stalls show up here first."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

INTERVAL = 0.02


class LoopLagMonitor:
    def __init__(self, window: int = 3000) -> None:
        self.samples: deque[float] = deque(maxlen=window)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(INTERVAL)
            self.samples.append(max(0.0, time.monotonic() - start - INTERVAL))

    def percentile(self, fraction: float) -> float:
        """Lag in seconds at `fraction` (0..1) over the recent window; 0 with no samples."""
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def reset(self) -> None:
        self.samples.clear()
