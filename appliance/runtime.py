"""What a running process holds: its configuration, database, keys and audit log."""

from __future__ import annotations

from dataclasses import dataclass

import peewee

from appliance.core.config import Config
from appliance.core.errors import ApplianceError
from appliance.db.database import open_database
from appliance.db.migrations import LATEST, schema_version
from appliance.storage.appliance_keys import ApplianceKeys, load_keys
from appliance.storage.audit import AuditLog
from appliance.storage.audit_anchor import anchor_path


@dataclass
class Runtime:
    config: Config
    db: peewee.Database
    keys: ApplianceKeys
    audit: AuditLog

    def close(self) -> None:
        """Sign what the audit log gained in this process, then close the database."""
        try:
            if self.db.table_exists("audit_entry"):
                self.audit.checkpoint()
        finally:
            self.db.close()


def open_runtime(config: Config, require_current_schema: bool = True) -> Runtime:
    """Open an initialized data dir; by default refuse a database whose schema is not current."""
    if not config.data_dir.is_dir():
        raise ApplianceError(
            f"data dir {config.data_dir} does not exist; run 'appliance init --data-dir "
            f"{config.data_dir}'"
        )
    keys = load_keys(config.data_dir)
    db = open_database(config.database_url)
    if require_current_schema:
        version = schema_version(db)
        if version != LATEST:
            db.close()
            raise ApplianceError(
                f"the database is at schema version {version}, this release needs {LATEST}; "
                "run 'appliance init' to upgrade it"
            )
    audit = AuditLog(
        db, keys.signing_key, config.audit.checkpoint_every, anchor_path(config.data_dir)
    )
    return Runtime(config=config, db=db, keys=keys, audit=audit)
