"""Telling systemd that a process is ready and still alive (the sd_notify protocol).

Under a unit with Type=notify and WatchdogSec=, systemd passes NOTIFY_SOCKET and WATCHDOG_USEC;
elsewhere these are absent and every call here does nothing. The keep-alive runs on the
process's own event loop or main thread, so a process that hangs stops sending it and is
restarted.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable


def notify(message: str) -> bool:
    """Send one notification ("READY=1", "WATCHDOG=1", "STOPPING=1"); False if not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between keep-alives (half the watchdog timeout), or None without a watchdog."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid.isdigit() and int(pid) != os.getpid()):
        return None
    return max(0.05, int(usec) / 2_000_000)


async def keep_alive(healthy: Callable[[], bool] = lambda: True) -> None:
    """Report ready, then alive every interval while `healthy()` says so (run it as a task)."""
    notify("READY=1")
    interval = watchdog_interval()
    if interval is None:
        return
    while True:
        if healthy():
            notify("WATCHDOG=1")
        await asyncio.sleep(interval)
