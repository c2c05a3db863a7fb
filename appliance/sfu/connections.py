"""How many signaling connections the SFU keeps open: per client address and in all.

Every connection holds a socket, and a participant's peer connections hold UDP sockets and
recording files besides. Past the process's open-file limit nothing can be accepted, /healthz
and valid joins included, so the SFU refuses connections well before it: the total defaults
to what the limit leaves room for, and a connection that has not joined within
`[sfu] join_timeout_seconds` is closed.
"""

from __future__ import annotations

import logging
import resource
from collections import Counter

from appliance.core.config import SfuConfig

logger = logging.getLogger(__name__)

# Open files one connected participant may take: its websocket, two peer connections with a
# UDP socket per address of the box (two addresses assumed), and two recording files.
FILES_PER_CONNECTION = 8
# Files kept for everything else: the listening sockets, logs, models, the blob store.
FILES_RESERVED = 128


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (systemd's LimitNOFILE); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            logger.warning("cannot raise the open-file limit from %d to %d", soft, hard)
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


def connection_budget(config: SfuConfig, open_files: int) -> int:
    """The most connections open at once: the configured number, else what the open-file
    limit leaves room for. Warns when the rooms the SFU admits need more than that."""
    budget = config.max_connections or max(1, (open_files - FILES_RESERVED) // FILES_PER_CONNECTION)
    needed = config.max_rooms * config.max_participants
    if needed > budget:
        logger.warning(
            "[sfu] max_rooms %d x max_participants %d needs %d connections, but only %d fit "
            "(open-file limit %d); raise LimitNOFILE or lower max_rooms",
            config.max_rooms,
            config.max_participants,
            needed,
            budget,
            open_files,
        )
    return budget


class ConnectionGate:
    """Counts open connections; refuses one past either cap before it is upgraded."""

    def __init__(self, per_address: int, total: int) -> None:
        self.per_address = per_address
        self.total = total
        self._open: Counter[str] = Counter()
        self._count = 0

    def refusal(self, address: str) -> tuple[int, str] | None:
        """The HTTP status and reason to refuse a new connection from `address`, or None."""
        if self._count >= self.total:
            return 503, "the media server has as many connections as it can hold; retry later"
        if self._open[address] >= self.per_address:
            return 429, "too many open connections from this address"
        return None

    def opened(self, address: str) -> None:
        self._open[address] += 1
        self._count += 1

    def closed(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]
        self._count -= 1

    @property
    def open_connections(self) -> int:
        return self._count
