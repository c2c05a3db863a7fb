"""How the web process knows the worker is alive: the worker touches a file in the data dir."""

from __future__ import annotations

from pathlib import Path

HEARTBEAT_SECONDS = 15.0


def heartbeat_path(data_dir: Path) -> Path:
    """Touched every HEARTBEAT_SECONDS while the worker and all its threads are alive."""
    return data_dir / "run" / "worker.alive"
