"""A bounded hand-off from the event loop to a worker thread that never makes the loop wait."""

from __future__ import annotations

import queue
import threading
import time
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

    def has_room(self) -> bool:
        return not self._queue.full()

    def finish(self, consumer: threading.Thread, timeout: float) -> bool:
        """Tell `consumer` to stop after what is queued and wait for it; False if it would not.

        Gives up at once when the consumer thread has died (nothing would ever make room).
        """
        deadline = time.monotonic() + timeout
        while consumer.is_alive():
            try:
                self._queue.put(_END, timeout=0.2)
                break
            except queue.Full:
                if time.monotonic() > deadline:
                    return False
        consumer.join(max(0.0, deadline - time.monotonic()))
        return not consumer.is_alive()

    def __iter__(self) -> Iterator[T]:
        """The consumer's side: items in order until `finish`."""
        while (item := self._queue.get()) is not _END:
            yield item  # type: ignore[misc]
