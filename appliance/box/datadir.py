"""`appliance init`: the data dir, its keys and database, and the first-run setup link."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from appliance.box.firstrun import setup_token
from appliance.core.config import Config
from appliance.core.errors import ApplianceError
from appliance.db.migrations import migrate
from appliance.runtime import open_runtime
from appliance.storage.appliance_keys import create_keys
from appliance.storage.keystore import settle_rotation


@dataclass(frozen=True)
class InitResult:
    created_keys: bool
    schema_from: int
    schema_to: int
    setup_url: str | None


def ensure_writable_dir(path: Path) -> None:
    """Create `path` (0700) if needed and prove it is writable, or say clearly why not."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ApplianceError(
            f"data dir {path} is not usable ({reason}); choose a writable directory with "
            "--data-dir or APPLIANCE_DATA_DIR"
        ) from None


def initialize(config: Config) -> InitResult:
    """Create or upgrade everything under the data dir; safe to run again."""
    ensure_writable_dir(config.data_dir)
    created = create_keys(config.data_dir)
    runtime = open_runtime(config, require_current_schema=False)
    try:
        start, end = migrate(runtime.db)
        settle_rotation(runtime.db, config.data_dir)
        token = setup_token(config.data_dir)
        url = f"{config.public_url}/setup/{token}" if token else None
        if created:
            runtime.audit.record("system", "appliance.init", str(config.data_dir))
        if start != end and start != 0:
            runtime.audit.record("system", "schema.upgrade", "", {"from": start, "to": end})
    finally:
        runtime.close()
    return InitResult(created_keys=created, schema_from=start, schema_to=end, setup_url=url)
