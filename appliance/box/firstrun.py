"""The one-time first-run setup: a URL printed by `appliance init` that creates the first admin."""

from __future__ import annotations

import hmac

from appliance.core.errors import ApplianceError
from appliance.db.models import Role, Setting, User
from appliance.staff.accounts import create_user
from appliance.staff.bearer import digest, new_token
from appliance.storage.audit import AuditLog

SETTING_KEY = "setup_token_sha256"


class SetupUnavailable(ApplianceError):
    """The setup link is unknown, already used, or setup is complete."""


def setup_complete() -> bool:
    return User.select().where(User.role == Role.ADMIN.value).exists()


def issue_setup_token() -> str | None:
    """A fresh token (replacing any earlier one) while no admin exists; None afterwards."""
    if setup_complete():
        return None
    token = new_token()
    Setting.insert(key=SETTING_KEY, value=digest(token)).on_conflict_replace().execute()
    return token


def token_is_valid(token: str) -> bool:
    stored = Setting.get_or_none(Setting.key == SETTING_KEY)
    if stored is None or setup_complete():
        return False
    return hmac.compare_digest(stored.value, digest(token))


def complete_setup(audit: AuditLog, token: str, email: str, name: str, password: str) -> User:
    """Create the first admin and burn the token, atomically: a second use fails."""
    with audit.db.atomic():
        if not token_is_valid(token):
            raise SetupUnavailable(
                "this setup link is not valid: setup was already completed or the link was "
                "replaced; sign in, or run 'appliance init' for a new link"
            )
        user = create_user(audit, "setup", email, Role.ADMIN.value, password, name=name)
        Setting.delete().where(Setting.key == SETTING_KEY).execute()
        audit.record("setup", "setup.complete", user.email)
    return user
