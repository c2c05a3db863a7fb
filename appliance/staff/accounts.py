"""Staff accounts: creating users, changing roles, and signing in with lockout and TOTP."""

from __future__ import annotations

import datetime
import hmac
import re
from dataclasses import dataclass

import peewee
import pyotp

from appliance.core.config import AuthConfig
from appliance.core.errors import ApplianceError, Conflict, Invalid, NotFound
from appliance.db.database import utcnow
from appliance.db.models import Role, User
from appliance.staff.passwords import hash_password, needs_rehash, verify_password
from appliance.staff.sessions import revoke_all
from appliance.storage.audit import AuditLog

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TOTP_SECRET_PATTERN = re.compile(r"^[A-Z2-7]{32}$")


class SignInFailed(ApplianceError):
    """Sign-in refused; the message is safe to show (it never says which part was wrong)."""


def normalize_email(email: str) -> str:
    if len(email) > 254:
        raise Invalid("an e-mail address is at most 254 characters")
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise Invalid(f"'{email}' is not a valid e-mail address")
    return email


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ApplianceError(
            f"unknown role '{role}'; choose one of: {', '.join(r.value for r in Role)}"
        ) from None


def create_user(
    audit: AuditLog,
    actor: str,
    email: str,
    role: str,
    password: str,
    name: str = "",
    must_change_password: bool = False,
) -> User:
    """Add a staff member; the e-mail must be new. `must_change_password` when someone else
    chose the password: its owner then replaces it before anything else."""
    email = normalize_email(email)
    checked_role = parse_role(role)
    password_hash = hash_password(password)
    with audit.db.atomic():
        if User.select().where(User.email == email).exists():
            raise Conflict(f"a user with e-mail {email} already exists")
        try:
            user = User.create(
                email=email,
                name=name.strip(),
                role=checked_role.value,
                password_hash=password_hash,
                must_change_password=must_change_password,
            )
        except peewee.IntegrityError:
            raise Conflict(f"a user with e-mail {email} already exists") from None
        audit.record(actor, "user.create", email, {"role": checked_role.value, "user_id": user.id})
    return user


def change_password(audit: AuditLog, user: User, current: str, new: str, again: str) -> None:
    """The user replaces their own password, proving they know the current one. Every session
    of theirs ends (whoever may have learnt the old password is signed out): the caller starts
    a fresh one for the person who just proved it."""
    if not verify_password(user.password_hash, current):
        raise ApplianceError("The current password is not right.")
    if new != again:
        raise ApplianceError("The two new passwords differ.")
    if new == current:
        raise ApplianceError("Choose a password different from the current one.")
    password_hash = hash_password(new)
    with audit.db.atomic():
        User.update(password_hash=password_hash, must_change_password=False).where(
            User.id == user.id
        ).execute()
        revoke_all(user)
        audit.record(user.email, "user.password_change", user.email)
    user.password_hash, user.must_change_password = password_hash, False


def find_user(user_id: int) -> User | None:
    found: User | None = User.get_or_none(User.id == user_id)
    return found


def get_user(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}")
    return user


def active_users_by_role() -> dict[Role, int]:
    """How many active accounts each role has (every role, zero included)."""
    counts = dict.fromkeys(Role, 0)
    for user in User.select(User.role).where(User.active):
        counts[Role(user.role)] += 1
    return counts


def list_users() -> list[User]:
    return list(User.select().order_by(User.email))


def change_role(audit: AuditLog, actor: str, user_id: int, role: str) -> User:
    new_role = parse_role(role)
    with audit.db.atomic():
        user = get_user(user_id)
        old = user.role
        if old == new_role.value:
            return user
        _keep_one_admin(user, leaving=old == Role.ADMIN.value)
        user.role = new_role.value
        user.save()
        revoke_all(user)
        audit.record(actor, "user.role_change", user.email, {"from": old, "to": new_role.value})
    return user


def set_active(audit: AuditLog, actor: str, user_id: int, active: bool) -> User:
    with audit.db.atomic():
        user = get_user(user_id)
        if user.active == active:
            return user
        if not active:
            _keep_one_admin(user, leaving=user.role == Role.ADMIN.value)
            revoke_all(user)
        user.active = active
        user.failed_signins = 0
        user.locked_until = None
        user.save()
        audit.record(actor, "user.activate" if active else "user.deactivate", user.email)
    return user


def _keep_one_admin(user: User, leaving: bool) -> None:
    if not leaving:
        return
    others = User.select().where(
        (User.role == Role.ADMIN.value) & (User.active == True) & (User.id != user.id)  # noqa: E712
    )
    if not others.exists():
        raise ApplianceError("this is the last active administrator; make another admin first")


@dataclass(frozen=True)
class SignInAttempt:
    email: str
    password: str
    totp_code: str = ""
    remote: str = ""


# One answer for an unknown address, a wrong password and a locked account, so that the answer
# never tells which accounts exist.
REFUSED = (
    "wrong e-mail or password (after repeated failed sign-ins an account is locked for a while; "
    "try again later)"
)


def sign_in(audit: AuditLog, auth: AuthConfig, attempt: SignInAttempt) -> User:
    """Check an attempt; every outcome is audited, and repeated failures lock the account.

    The password hash (deliberately slow) is checked before the write transaction opens, so
    a burst of sign-ins never holds the database's writer lock while hashing."""
    email = attempt.email.strip().lower()
    now = utcnow()
    found = User.get_or_none(User.email == email)
    password_ok = verify_password(found.password_hash if found else None, attempt.password)
    rehashed = (
        hash_password(attempt.password)
        if found is not None and password_ok and needs_rehash(found.password_hash)
        else None
    )
    with audit.db.atomic():
        user = User.get_or_none(User.email == email)
        if user is not None and found is not None and user.password_hash != found.password_hash:
            password_ok, rehashed = False, None  # the password changed meanwhile: retry
        step = _totp_step(user, attempt.totp_code, now) if user is not None else None
        reason = _refusal(user, password_ok, step, now)
        if reason is None and user is not None:
            user.failed_signins = 0
            user.locked_until = None
            if step is not None:
                user.totp_last_step = step
            if rehashed is not None:
                user.password_hash = rehashed
            user.save()
            audit.record(email, "auth.signin", email, {"remote": attempt.remote})
            return user
        if user is not None and reason != "locked":
            user.failed_signins += 1
            if user.failed_signins >= auth.lockout_attempts:
                user.locked_until = now + datetime.timedelta(minutes=auth.lockout_minutes)
                user.failed_signins = 0
                audit.record("system", "auth.lockout", email, {"minutes": auth.lockout_minutes})
            user.save()
        audit.record(
            email, "auth.signin_failed", email, {"reason": reason, "remote": attempt.remote}
        )
    if reason == "totp":
        raise SignInFailed("enter the 6-digit code from your authenticator app")
    raise SignInFailed(REFUSED)


TOTP_PERIOD = 30


def _totp_step(user: User, code: str, now: datetime.datetime) -> int | None:
    """The time step `code` belongs to (the current one or either neighbour, for clock drift),
    if it is the user's and newer than the last one accepted from them; else None."""
    if not user.totp_secret:
        return None
    totp = pyotp.TOTP(user.totp_secret, interval=TOTP_PERIOD)
    current = int(now.replace(tzinfo=datetime.UTC).timestamp()) // TOTP_PERIOD
    for step in (current - 1, current, current + 1):
        if step > user.totp_last_step and hmac.compare_digest(
            totp.generate_otp(step), code.strip()
        ):
            return step
    return None


def _refusal(
    user: User | None, password_ok: bool, totp_step: int | None, now: datetime.datetime
) -> str | None:
    if user is None or not user.active:
        return "unknown_or_inactive"
    if user.locked_until is not None and user.locked_until > now:
        return "locked"
    if not password_ok:
        return "password"
    if user.totp_secret and totp_step is None:
        return "totp"
    return None


def new_totp_secret() -> str:
    return str(pyotp.random_base32())


def totp_uri(user: User, secret: str) -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Parley"))


def enable_totp(audit: AuditLog, user: User, secret: str, code: str) -> None:
    """Turn on TOTP once the user proves their authenticator produces the right code."""
    if not TOTP_SECRET_PATTERN.match(secret):
        raise ApplianceError("the authenticator key is malformed; reload the page and retry")
    if not pyotp.TOTP(secret).verify(code.strip(), valid_window=1):
        raise ApplianceError("that code does not match; check the clock on your phone and retry")
    user.totp_secret = secret
    user.save()
    audit.record(user.email, "auth.totp_enabled", user.email)


def disable_totp(audit: AuditLog, user: User, code: str) -> None:
    """Turn off TOTP; the user proves they still hold the authenticator."""
    if not user.totp_secret or not pyotp.TOTP(user.totp_secret).verify(
        code.strip(), valid_window=1
    ):
        raise ApplianceError("that code does not match; two-step sign-in stays on")
    user.totp_secret = None
    user.save()
    audit.record(user.email, "auth.totp_disabled", user.email)
