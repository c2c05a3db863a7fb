"""Staff accounts and sign-in rules, without HTTP."""

import datetime

import pyotp
import pytest

from appliance.core.errors import ApplianceError, Conflict
from appliance.db.database import utcnow
from appliance.db.models import AuditEntry, Session, User
from appliance.runtime import Runtime
from appliance.staff import accounts
from appliance.staff.accounts import SignInAttempt, SignInFailed
from appliance.staff.sessions import find_session_user, start_session
from tests.conftest import PASSWORD, make_user


def _attempt(email: str, password: str = PASSWORD, code: str = "") -> SignInAttempt:
    return SignInAttempt(email=email, password=password, totp_code=code)


def test_passwords_are_stored_as_argon2id(runtime: Runtime) -> None:
    user = make_user(runtime, "recruiter")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_duplicate_email_bad_role_and_short_password_are_refused(runtime: Runtime) -> None:
    make_user(runtime, "recruiter", "dup@example.com")
    with pytest.raises(Conflict):
        accounts.create_user(runtime.audit, "t", "DUP@example.com", "admin", PASSWORD)
    with pytest.raises(ApplianceError, match="unknown role"):
        accounts.create_user(runtime.audit, "t", "new@example.com", "boss", PASSWORD)
    with pytest.raises(ApplianceError, match="at least 10"):
        accounts.create_user(runtime.audit, "t", "new@example.com", "admin", "short")
    with pytest.raises(ApplianceError, match="not a valid e-mail"):
        accounts.create_user(runtime.audit, "t", "nobody", "admin", PASSWORD)
    assert User.select().count() == 1


def test_sign_in_success_and_failure_are_audited(runtime: Runtime) -> None:
    make_user(runtime, "interviewer", "ivy@example.com")
    assert (
        accounts.sign_in(runtime.audit, runtime.config.auth, _attempt("Ivy@Example.com")).email
        == "ivy@example.com"
    )
    with pytest.raises(SignInFailed, match="wrong e-mail or password"):
        accounts.sign_in(
            runtime.audit, runtime.config.auth, _attempt("ivy@example.com", "wrong password!")
        )
    with pytest.raises(SignInFailed, match="wrong e-mail or password"):
        accounts.sign_in(runtime.audit, runtime.config.auth, _attempt("nobody@example.com"))
    actions = [e.action for e in AuditEntry.select().where(AuditEntry.subject.contains("@"))]
    assert actions.count("auth.signin") == 1
    assert actions.count("auth.signin_failed") == 2


def test_repeated_failures_lock_the_account_even_for_the_right_password(runtime: Runtime) -> None:
    make_user(runtime, "recruiter", "rita@example.com")
    auth = runtime.config.auth
    for _ in range(auth.lockout_attempts):
        with pytest.raises(SignInFailed):
            accounts.sign_in(runtime.audit, auth, _attempt("rita@example.com", "wrong password!"))
    with pytest.raises(SignInFailed, match="locked"):
        accounts.sign_in(runtime.audit, auth, _attempt("rita@example.com"))
    assert AuditEntry.select().where(AuditEntry.action == "auth.lockout").count() == 1
    User.update(locked_until=utcnow() - datetime.timedelta(seconds=1)).execute()
    assert (
        accounts.sign_in(runtime.audit, auth, _attempt("rita@example.com")).email
        == "rita@example.com"
    )


def test_totp_is_required_once_enabled(runtime: Runtime) -> None:
    user = make_user(runtime, "compliance", "cora@example.com")
    secret = accounts.new_totp_secret()
    with pytest.raises(ApplianceError, match="does not match"):
        accounts.enable_totp(runtime.audit, user, secret, "000000")
    accounts.enable_totp(runtime.audit, user, secret, pyotp.TOTP(secret).now())
    auth = runtime.config.auth
    with pytest.raises(SignInFailed, match="6-digit code"):
        accounts.sign_in(runtime.audit, auth, _attempt("cora@example.com"))
    signed_in = accounts.sign_in(
        runtime.audit, auth, _attempt("cora@example.com", code=pyotp.TOTP(secret).now())
    )
    assert signed_in.id == user.id


def test_the_last_admin_cannot_be_demoted_or_deactivated(runtime: Runtime) -> None:
    admin = make_user(runtime, "admin")
    with pytest.raises(ApplianceError, match="last active administrator"):
        accounts.change_role(runtime.audit, "t", admin.id, "recruiter")
    with pytest.raises(ApplianceError, match="last active administrator"):
        accounts.set_active(runtime.audit, "t", admin.id, False)
    make_user(runtime, "admin", "second@example.com")
    assert accounts.change_role(runtime.audit, "t", admin.id, "recruiter").role == "recruiter"


def test_role_change_signs_the_user_out_everywhere(runtime: Runtime) -> None:
    make_user(runtime, "admin")
    user = make_user(runtime, "recruiter")
    token = start_session(user, runtime.config.auth)
    assert find_session_user(token, runtime.config.auth) is not None
    accounts.change_role(runtime.audit, "admin@example.com", user.id, "interviewer")
    assert find_session_user(token, runtime.config.auth) is None
    entry = AuditEntry.select().where(AuditEntry.action == "user.role_change").get()
    assert '"to":"interviewer"' in entry.details


def test_sessions_expire_when_idle_or_old(runtime: Runtime) -> None:
    user = make_user(runtime, "recruiter")
    auth = runtime.config.auth
    token = start_session(user, auth)
    Session.update(
        last_seen_at=utcnow() - datetime.timedelta(minutes=auth.session_idle_minutes + 1)
    ).execute()
    assert find_session_user(token, auth) is None
    token = start_session(user, auth)
    Session.update(expires_at=utcnow() - datetime.timedelta(seconds=1)).execute()
    assert find_session_user(token, auth) is None
    assert find_session_user("forged-token", auth) is None


def test_a_locked_account_and_an_unknown_address_get_the_same_answer(runtime: Runtime) -> None:
    make_user(runtime, "recruiter", "rita@example.com")
    auth = runtime.config.auth
    for _ in range(auth.lockout_attempts):
        with pytest.raises(SignInFailed):
            accounts.sign_in(runtime.audit, auth, _attempt("rita@example.com", "wrong password!"))
    with pytest.raises(SignInFailed) as locked:
        accounts.sign_in(runtime.audit, auth, _attempt("rita@example.com"))
    with pytest.raises(SignInFailed) as unknown:
        accounts.sign_in(runtime.audit, auth, _attempt("nobody@example.com"))
    with pytest.raises(SignInFailed) as wrong:
        accounts.sign_in(runtime.audit, auth, _attempt("rita@example.com", "wrong again!"))
    assert str(locked.value) == str(unknown.value) == str(wrong.value)
    reasons = [
        e.details for e in AuditEntry.select().where(AuditEntry.action == "auth.signin_failed")
    ]
    assert any('"locked"' in r for r in reasons)  # the audit log still says why


def test_a_totp_code_signs_in_once(runtime: Runtime) -> None:
    user = make_user(runtime, "admin", "ada@example.com")
    secret = accounts.new_totp_secret()
    accounts.enable_totp(runtime.audit, user, secret, pyotp.TOTP(secret).now())
    auth = runtime.config.auth
    code = pyotp.TOTP(secret).now()
    assert accounts.sign_in(runtime.audit, auth, _attempt("ada@example.com", code=code))
    for _ in range(2):  # replayed, as a shoulder-surfer or a proxy log would
        with pytest.raises(SignInFailed, match="6-digit code"):
            accounts.sign_in(runtime.audit, auth, _attempt("ada@example.com", code=code))
    later = pyotp.TOTP(secret).at(datetime.datetime.now() + datetime.timedelta(seconds=30))
    assert accounts.sign_in(runtime.audit, auth, _attempt("ada@example.com", code=later))
    with pytest.raises(SignInFailed, match="6-digit code"):  # an older step than one used
        accounts.sign_in(runtime.audit, auth, _attempt("ada@example.com", code=code))
