"""The machine's host name, as an administrator sets it on the Settings page.

The name is what the box gives its DHCP server, which in most networks becomes its DNS name.
The web process only stores it (`[system] hostname` in settings.toml); the root oneshot that
restarts the services after a save (image/files/parley-restart.service) applies it first with
`appliance system apply-hostname`: /etc/hostname, the 127.0.1.1 line of /etc/hosts, and the
running kernel's name.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path

from appliance.core.atomic_file import write_atomically
from appliance.core.errors import ApplianceError

LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOSTNAME = re.compile(rf"{LABEL}(?:\.{LABEL})*")
MAX_LENGTH = 64  # the kernel's HOST_NAME_MAX


def check_hostname(value: str) -> str:
    name = value.strip().lower().rstrip(".")
    if name and (len(name) > MAX_LENGTH or not HOSTNAME.fullmatch(name)):
        raise ApplianceError(
            "a host name is letters, digits and hyphens, in dot-separated labels that neither "
            f"start nor end with a hyphen, {MAX_LENGTH} characters at most"
        )
    return name


def _hosts(current: str, name: str) -> str:
    """/etc/hosts with the machine's own line (127.0.1.1, Debian's convention) naming `name`."""
    short = name.split(".")[0]
    own = f"127.0.1.1 {name}" + (f" {short}" if short != name else "")
    lines = [line for line in current.splitlines() if not line.startswith("127.0.1.1")]
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith("127.0.0.1")), 0)
    return "\n".join([*lines[:at], own, *lines[at:]]) + "\n"


def apply_hostname(
    stored: str,
    etc: Path = Path("/etc"),
    set_kernel_name: Callable[[str], None] = socket.sethostname,
) -> str | None:
    """Apply the stored host name; returns it when it changed anything, else None."""
    name = check_hostname(stored)
    if not name:
        return None
    try:
        current = (etc / "hostname").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        current = ""
    if current == name and socket.gethostname() == name:
        return None
    write_atomically(etc / "hostname", (name + "\n").encode(), 0o644)
    hosts = etc / "hosts"
    current_hosts = hosts.read_text(encoding="utf-8") if hosts.exists() else ""
    write_atomically(hosts, _hosts(current_hosts, name).encode(), 0o644)
    set_kernel_name(name)
    return name
