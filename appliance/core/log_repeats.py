"""Services' logs without floods: a message repeated many times a second (an accept failing
for want of file descriptors, a peer sending garbage in a loop) is written once per interval,
with a count of how many like it were left out."""

from __future__ import annotations

import logging
import threading
import time

INTERVAL_SECONDS = 60.0
MAX_TRACKED = 1000


class RepeatFilter(logging.Filter):
    """Lets a record through when no record from the same place (logger, level, message
    template) passed in the last `interval` seconds; otherwise counts it and drops it."""

    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        super().__init__()
        self.interval = interval
        self._last: dict[tuple[str, int, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self._lock:
            passed, dropped = self._last.get(key, (-self.interval, 0))
            if now - passed < self.interval:
                self._last[key] = (passed, dropped + 1)
                return False
            if len(self._last) >= MAX_TRACKED:
                self._last = {k: v for k, v in self._last.items() if now - v[0] < self.interval}
            self._last[key] = (now, 0)
        if dropped:
            record.msg = f"{record.msg} ({dropped} more like this in the last interval left out)"
        return True


def log_to_stderr(log_format: str) -> None:
    """The services' logging: stderr (the journal under systemd), the appliance's own news
    and everyone's warnings, each repeated message at most once a minute."""
    logging.basicConfig(level=logging.WARNING, format=log_format)
    logging.getLogger("appliance").setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatFilter())
