"""The one-time first-run setup: a URL that creates the first admin.

`appliance init`, `appliance serve` and `appliance setup-link` all print the same link until it
is used (or renewed on purpose), so following the install guide never leaves a dead link on the
console. The database holds only the token's digest, which is what the web checks; the token
itself waits in a private file in the data dir so the commands can print it again, and that file
is removed once an administrator exists.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from appliance.core.atomic_file import read_bounded, write_atomically
from appliance.core.errors import ApplianceError
from appliance.db.models import Role, Setting, User
from appliance.staff.accounts import create_user
from appliance.staff.bearer import digest, new_token
from appliance.storage.audit import AuditLog

SETTING_KEY = "setup_token_sha256"
TOKEN_FILE = "setup-token"


class SetupUnavailable(ApplianceError):
    """The setup link is unknown, already used, or setup is complete."""


def setup_complete() -> bool:
    return User.select().where(User.role == Role.ADMIN.value).exists()


def setup_token(data_dir: Path, renew: bool = False) -> str | None:
    """The setup token while no admin exists (None afterwards): the one already issued, or a
    fresh one when there is none yet, the kept one no longer matches, or `renew` asks for it
    (which makes every earlier link invalid)."""
    kept_at = data_dir / TOKEN_FILE
    if setup_complete():
        kept_at.unlink(missing_ok=True)
        return None
    if not renew:
        kept = _kept_token(kept_at)
        if kept is not None and token_is_valid(kept):
            return kept
    token = new_token()
    write_atomically(kept_at, token.encode())
    Setting.insert(key=SETTING_KEY, value=digest(token)).on_conflict_replace().execute()
    return token


def _kept_token(path: Path) -> str | None:
    try:
        raw = read_bounded(path, 256)
    except (OSError, ValueError):
        return None
    return raw.decode("ascii", "replace").strip() if raw else None


def token_is_valid(token: str) -> bool:
    stored = Setting.get_or_none(Setting.key == SETTING_KEY)
    if stored is None or setup_complete():
        return False
    return hmac.compare_digest(stored.value, digest(token))


def complete_setup(
    audit: AuditLog, data_dir: Path, token: str, email: str, name: str, password: str
) -> User:
    """Create the first admin and burn the token, atomically: a second use fails."""
    with audit.db.atomic():
        if not token_is_valid(token):
            raise SetupUnavailable(
                "This setup link is not valid: setup was already completed or the link was "
                "renewed. Sign in, or run 'appliance setup-link' on the server."
            )
        user = create_user(audit, "setup", email, Role.ADMIN.value, password, name=name)
        Setting.delete().where(Setting.key == SETTING_KEY).execute()
        audit.record("setup", "setup.complete", user.email)
    (data_dir / TOKEN_FILE).unlink(missing_ok=True)
    return user
