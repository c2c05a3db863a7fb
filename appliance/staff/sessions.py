"""Server-side staff sessions: the cookie holds a random token, the database its SHA-256."""

from __future__ import annotations

import datetime

from appliance.core.config import AuthConfig
from appliance.db.database import utcnow
from appliance.db.models import Session, User
from appliance.staff.bearer import digest, new_token

# Only refresh last_seen_at this often, so reading pages does not write on every request.
TOUCH_INTERVAL = datetime.timedelta(minutes=1)


def start_session(user: User, auth: AuthConfig) -> str:
    """Create a session for `user` and return the token to put in the cookie."""
    token = new_token()
    now = utcnow()
    Session.create(
        token_hash=digest(token),
        user=user,
        created_at=now,
        last_seen_at=now,
        expires_at=now + datetime.timedelta(hours=auth.session_max_hours),
    )
    return token


def find_session_user(token: str, auth: AuthConfig) -> User | None:
    """The active user behind `token`, or None for a forged, expired or idle one."""
    if not token or len(token) > 128:
        return None
    session = (
        Session.select(Session, User).join(User).where(Session.token_hash == digest(token)).first()
    )
    if session is None:
        return None
    now = utcnow()
    idle_limit = session.last_seen_at + datetime.timedelta(minutes=auth.session_idle_minutes)
    if session.expires_at <= now or idle_limit <= now or not session.user.active:
        session.delete_instance()
        return None
    if now - session.last_seen_at > TOUCH_INTERVAL:
        Session.update(last_seen_at=now).where(Session.token_hash == session.token_hash).execute()
    user: User = session.user
    return user


def end_session(token: str) -> None:
    Session.delete().where(Session.token_hash == digest(token)).execute()


def revoke_all(user: User) -> None:
    """Sign a user out everywhere (role change, deactivation, password change)."""
    Session.delete().where(Session.user == user).execute()


def purge_expired() -> int:
    return int(Session.delete().where(Session.expires_at <= utcnow()).execute())
