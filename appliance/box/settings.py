"""What administrators set in the browser after first boot: the box's address and host name,
the e-mail relay, the notifications staff get and the ACME certificate authority. Kept in
`<data-dir>/settings.toml` (0600: it holds the relay's password), which overrides the config
file (appliance/core/config.py); the services read it when they start, so a change asks for a
restart (`run/restart`, which the image's path unit acts on).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from appliance.box.acme_certificates import check_domains
from appliance.box.hostname import check_hostname
from appliance.core.atomic_file import write_atomically
from appliance.core.config import SETTINGS_FILE, Config, check_value, read_config_file
from appliance.core.errors import ApplianceError
from appliance.storage.audit import AuditLog

EDITABLE = {
    "web": ("public_url",),
    "smtp": ("host", "port", "username", "password", "sender", "security"),
    "acme": ("directory_url", "email", "domains"),
    "system": ("hostname",),
    "notifications": ("scorecard_due_hours", "scorecard_repeat_hours", "transcript_ready"),
    "interviews": ("ai_assistance", "rubric_suggestions"),
}
SECRET = {("smtp", "password")}
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def settings_path(data_dir: Path) -> Path:
    return data_dir / SETTINGS_FILE


def restart_marker(data_dir: Path) -> Path:
    return data_dir / "run" / "restart"


def read_settings(data_dir: Path) -> dict[str, dict[str, Any]]:
    return read_config_file(settings_path(data_dir))


def effective(config: Config) -> dict[str, dict[str, Any]]:
    """The editable sections as the services will read them at their next start: the running
    configuration with what was saved since laid over it (pages show this, not the stale one)."""
    saved = read_settings(config.data_dir)
    return {
        section: {**dataclasses.asdict(getattr(config, section)), **saved.get(section, {})}
        for section in EDITABLE
    }


def _check(section: str, key: str, value: Any) -> Any:
    if key not in EDITABLE.get(section, ()):
        raise ApplianceError(f"[{section}] {key} cannot be set here")
    value = check_value(section, key, value, "settings")
    if (section, key) == ("web", "public_url") and value:
        parts = urlsplit(value)
        if (
            parts.scheme not in ("https", "http")
            or not parts.hostname
            or parts.path not in ("", "/")
        ):
            raise ApplianceError(
                "the address is a URL like https://interviews.example.com, without a path"
            )
        value = value.rstrip("/")
    if (section, key) == ("smtp", "host") and value and any(c in value for c in " /:@"):
        raise ApplianceError("the SMTP host is a host name or address, without a port or scheme")
    if (section, key) == ("acme", "directory_url") and value:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ApplianceError("the ACME directory is an https:// URL")
    if (section, key) == ("acme", "email") and value and not EMAIL.fullmatch(value):
        raise ApplianceError("the ACME contact is an e-mail address")
    if (section, key) == ("system", "hostname"):
        value = check_hostname(value)
    if (section, key) == ("acme", "domains"):
        value = ",".join(check_domains(value))
    return value


def _toml(values: dict[str, dict[str, Any]]) -> str:
    lines = ["# Written by the appliance's settings page; it overrides appliance.toml.\n"]
    for section, table in values.items():
        lines.append(f"\n[{section}]\n")
        for key, value in table.items():
            text = str(value).lower() if isinstance(value, bool) else json.dumps(value)
            lines.append(f"{key} = {text}\n")
    return "".join(lines)


def save_settings(
    audit: AuditLog, actor: str, data_dir: Path, updates: dict[str, dict[str, Any]]
) -> list[str]:
    """Check and store `updates` over the current settings; a secret left empty keeps its value.
    Returns the names that changed and asks the services to restart when any did."""
    current = read_settings(data_dir)
    merged = {section: dict(table) for section, table in current.items()}
    changed = []
    for section, table in updates.items():
        for key, value in table.items():
            if (section, key) in SECRET and value == "":
                continue
            value = _check(section, key, value)
            if merged.get(section, {}).get(key) != value:
                merged.setdefault(section, {})[key] = value
                changed.append(f"{section}.{key}")
    if not changed:
        return []
    write_atomically(settings_path(data_dir), _toml(merged).encode("utf-8"))
    audit.record(actor, "settings.change", "appliance", {"changed": changed})
    marker = restart_marker(data_dir)
    marker.parent.mkdir(mode=0o700, exist_ok=True)
    marker.touch()
    return changed
