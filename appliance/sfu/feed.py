"""A bounded hand-off from the event loop to a worker thread that never makes the loop wait."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class BoundedFeed(Generic[T]):
    def __init__(self, size: int) -> None:
        self._queue: queue.Queue[object] = queue.Queue(size)

    def offer(self, item: T) -> bool:
        """Hand `item` over, or drop it at once when the consumer is behind (returns False)."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def finish(self, timeout: float) -> None:
        """Tell the consumer to stop after what is already queued (waits for room if full)."""
        while True:
            try:
                self._queue.put(_END, timeout=timeout)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[T]:
        """The consumer's side: items in order until `finish`."""
        while (item := self._queue.get()) is not _END:
            yield item  # type: ignore[misc]
