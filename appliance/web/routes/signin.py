"""Signing in and out, and the user's own account (password, TOTP)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery, QueryParameter
from litestar.response import Redirect, Template

from appliance.core.errors import ApplianceError
from appliance.db.models import User
from appliance.staff import accounts, single_sign_on
from appliance.staff.accounts import SignInAttempt, SignInFailed
from appliance.staff.sessions import end_session, start_session
from appliance.web.access import (
    BEFORE_PASSWORD_CHANGE,
    SESSION_COOKIE,
    cookie_name,
    public,
    staff,
)
from appliance.web.pages import (
    AppRuntime,
    FormData,
    local_path,
    page,
    request_address,
    see_other,
)
from appliance.web.threads import in_thread


def _login_page(
    request: Request[Any, Any, Any], status: int = 200, *, next: str = "/", email: str = "",
    error: str | None = None,
) -> Template:  # fmt: skip
    settings = request.app.state.runtime.config.oidc
    return page(
        "login.html", request, status, next=next, email=email, error=error,
        sso=single_sign_on.enabled(settings),
        password_for_all=settings.password_signin == "everyone",
    )  # fmt: skip


@get("/login", opt=public(), sync_to_thread=False, include_in_schema=False)
def login_form(request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Template:
    return _login_page(request, next=local_path(next))


SSO_COOKIE = "parley_sso"


def _callback_url(runtime: AppRuntime) -> str:
    return f"{runtime.config.public_url}/login/sso/callback"


@get("/login/sso", opt=public(), include_in_schema=False)
@in_thread
def sso_begin(
    request: Request[Any, Any, Any], runtime: AppRuntime, next: FromQuery[str] = "/"
) -> Template | Redirect:
    """Off to the company's sign-in provider, with this browser's state in a cookie."""
    settings = runtime.config.oidc
    if not single_sign_on.enabled(settings):
        return _login_page(request, 404, error="Single sign-on is not set up on this box.")
    try:
        target, state = single_sign_on.begin(settings, _callback_url(runtime), local_path(next))
    except single_sign_on.ProviderUnreachable as exc:
        return _login_page(
            request, 503, next=local_path(next),
            error=f"The sign-in provider cannot be reached right now ({exc}). Try again later; "
            "an administrator with a break-glass account can sign in with a password below.",
        )  # fmt: skip
    response = Redirect(target, status_code=303)
    response.cookies.append(_sso_cookie(runtime, state, max_age=600))
    return response


def _sso_cookie(runtime: AppRuntime, state: str, max_age: int) -> Cookie:
    secure = runtime.config.public_url.startswith("https://")
    return Cookie(
        key=SSO_COOKIE, value=state, path="/login/sso", httponly=True, samesite="lax",
        secure=secure, max_age=max_age,
    )  # fmt: skip


@get("/login/sso/callback", opt=public(), include_in_schema=False)
@in_thread
def sso_callback(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    code: FromQuery[str] = "",
    oauth_state: Annotated[str, QueryParameter(name="state")] = "",
    error: FromQuery[str] = "",
    error_description: FromQuery[str] = "",
) -> Template | Redirect:
    """The provider's answer: a signed-in session, or a page saying why not."""
    settings = runtime.config.oidc
    if not single_sign_on.enabled(settings):
        return _login_page(request, 404, error="Single sign-on is not set up on this box.")
    try:
        if error:
            raise single_sign_on.SignInRefused(
                f"the sign-in provider said {error}: {error_description[:300]}"
            )
        signed_in = single_sign_on.finish(
            runtime.audit, settings, _callback_url(runtime), code, oauth_state,
            request.cookies.get(SSO_COOKIE, ""),
        )  # fmt: skip
    except (single_sign_on.SignInRefused, single_sign_on.ProviderUnreachable) as exc:
        refused = _login_page(request, 403, error=f"Single sign-on did not work: {exc}.")
        refused.cookies.append(_sso_cookie(runtime, "", max_age=0))
        return refused
    response = see_other(signed_in.next_path)
    response.cookies.extend(
        session_cookies(request, runtime, start_session(signed_in.user, runtime.config.auth))
    )
    response.cookies.append(_sso_cookie(runtime, "", max_age=0))
    return response


@post("/login", opt=public(), include_in_schema=False)
@in_thread
def login(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template | Redirect:
    target = local_path(data.get("next", "/"))
    attempt = SignInAttempt(
        email=data.get("email", ""),
        password=data.get("password", ""),
        totp_code=data.get("code", ""),
        remote=request_address(request),
    )
    if not request.app.state.sign_ins.allow(attempt.remote):
        refused = _login_page(
            request, 429, next=target, email=attempt.email,
            error="Too many sign-in attempts from this address. Wait a minute, then try again.",
        )  # fmt: skip
        refused.headers["retry-after"] = "60"
        return refused
    if not single_sign_on.password_allowed(runtime.config.oidc, attempt.email):
        return _login_page(
            request, 403, next=target, email=attempt.email,
            error="Sign in with your company account (single sign-on); passwords are kept for "
            "break-glass accounts only.",
        )  # fmt: skip
    try:
        user = accounts.sign_in(runtime.audit, runtime.config.auth, attempt)
    except SignInFailed as exc:
        return _login_page(request, 401, next=target, email=attempt.email, error=str(exc))
    response = see_other(target)
    response.cookies.extend(
        session_cookies(request, runtime, start_session(user, runtime.config.auth))
    )
    return response


# What a user who must still replace an administrator's password may reach.
UNTIL_CHANGED = {**staff(), BEFORE_PASSWORD_CHANGE: True}


@post("/logout", opt=UNTIL_CHANGED, include_in_schema=False)
@in_thread
def logout(request: Request[Any, Any, Any], runtime: AppRuntime) -> Redirect:
    name = cookie_name(runtime.config, SESSION_COOKIE)
    end_session(request.cookies.get(name, ""))
    user: User = request.scope["user"]
    runtime.audit.record(user.email, "auth.signout", user.email)
    response = see_other("/login")
    response.cookies.append(
        Cookie(key=name, value="", max_age=0, path="/", secure=name.startswith("__Host-"))
    )
    return response


def session_cookies(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: str
) -> list[Cookie]:
    """A new session's cookie, and the CSRF cookie bound to it (web/csrf_binding.py)."""
    binding = request.app.state.csrf_binding
    return [
        Cookie(
            key=cookie_name(runtime.config, SESSION_COOKIE),
            value=token,
            path="/",
            httponly=True,
            samesite="lax",
            secure=runtime.config.public_url.startswith("https://"),
            max_age=runtime.config.auth.session_max_hours * 3600,
        ),
        binding.cookie(binding.token_for(token)),
    ]


def _account_page(request: Request[Any, Any, Any], status: int = 200, **context: Any) -> Template:
    user: User = request.scope["user"]
    secret = context.pop("secret", None) or accounts.new_totp_secret()
    return page(
        "account.html",
        request,
        status,
        secret=secret,
        uri=accounts.totp_uri(user, secret),
        **{"error": None, "password_error": None, "notice": None, **context},
    )


@get("/account", opt=UNTIL_CHANGED, sync_to_thread=False, include_in_schema=False)
def account(request: Request[Any, Any, Any]) -> Template:
    changed = request.query_params.get("password") == "changed"
    return _account_page(request, notice="Your password is changed." if changed else None)


@post("/account/password", opt=UNTIL_CHANGED, include_in_schema=False)
@in_thread
def change_password(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template | Redirect:
    user: User = request.scope["user"]
    try:
        accounts.change_password(
            runtime.audit,
            user,
            data.get("current_password", ""),
            data.get("new_password", ""),
            data.get("new_password_again", ""),
        )
    except ApplianceError as exc:
        return _account_page(request, 400, password_error=str(exc))
    # Every session of this user ended with the old password; this one goes on in a new one.
    response = see_other("/account?password=changed")
    response.cookies.extend(
        session_cookies(request, runtime, start_session(user, runtime.config.auth))
    )
    return response


@post("/account/totp", opt=staff(), include_in_schema=False)
@in_thread
def enable_totp(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template | Redirect:
    user: User = request.scope["user"]
    secret = data.get("secret", "")
    try:
        accounts.enable_totp(runtime.audit, user, secret, data.get("code", ""))
    except ApplianceError as exc:
        return _account_page(request, 400, secret=secret, error=str(exc))
    return see_other("/account")


@post("/account/totp/disable", opt=staff(), include_in_schema=False)
@in_thread
def disable_totp(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template | Redirect:
    user: User = request.scope["user"]
    try:
        accounts.disable_totp(runtime.audit, user, data.get("code", ""))
    except ApplianceError as exc:
        return page("account.html", request, 400, secret="", uri="", error=str(exc))
    return see_other("/account")
