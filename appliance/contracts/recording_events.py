"""The recording event spool: how the SFU reports live recordings without touching the database.

The SFU writes one JSON file per event (atomically: temp file, fsync, rename) into
`<data-dir>/spool/recordings/`; the worker applies them in name order and deletes each once its
effect is committed. A file it cannot apply is moved to `rejected/` with the reason beside it,
never dropped.
"""

from __future__ import annotations

import json
import os
import time
from itertools import count
from pathlib import Path
from typing import Any

_sequence = count()
# Names sort by when this process started, then by a counter: a wall-clock step backwards
# cannot reorder one process's events (a room's events all come from one SFU process).
_PROCESS_STARTED = time.time_ns()


def spool_dir(data_dir: Path) -> Path:
    return data_dir / "spool" / "recordings"


def write_event(directory: Path, event: dict[str, Any]) -> Path:
    """Durably add an event; its name sorts after every earlier event of this process."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{_PROCESS_STARTED:020d}-{os.getpid():08d}-{next(_sequence):012d}.json"
    tmp = directory / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(event, out)
        out.flush()
        os.fsync(out.fileno())
    final = directory / name
    os.replace(tmp, final)
    return final


def pending(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == ".json" and p.is_file())


def reject(path: Path, reason: str) -> None:
    rejected = path.parent / "rejected"
    rejected.mkdir(mode=0o700, exist_ok=True)
    os.replace(path, rejected / path.name)
    (rejected / (path.name + ".reason")).write_text(reason + "\n", encoding="utf-8")
