"""First-run setup: the one-time link from `appliance init` creates the first administrator."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from appliance.box import firstrun
from appliance.core.errors import ApplianceError
from appliance.staff.sessions import start_session
from appliance.web.access import public
from appliance.web.pages import AppRuntime, FormData, page, see_other
from appliance.web.routes.signin import session_cookies
from appliance.web.threads import in_thread

GONE = (
    "This setup link is no longer valid: setup is complete, or a newer link was made. "
    "Sign in, or run 'appliance setup-link' on the server to print the current link."
)


@get("/setup/{token:str}", opt=public(), include_in_schema=False)
@in_thread
def setup_form(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    if not firstrun.token_is_valid(token):
        return page("message.html", request, 404, title="Setup link not valid", message=GONE)
    return page("setup.html", request, token=token, email="", name="", error=None)


@post("/setup/{token:str}", opt=public(), include_in_schema=False)
@in_thread
def finish_setup(
    request: Request[Any, Any, Any], runtime: AppRuntime, token: FromPath[str], data: FormData
) -> Template | Redirect:
    email, name = data.get("email", ""), data.get("name", "")
    password = data.get("password", "")
    if password != data.get("password_again", ""):
        return page(
            "setup.html",
            request,
            400,
            token=token,
            email=email,
            name=name,
            error="the two passwords differ",
        )
    try:
        user = firstrun.complete_setup(
            runtime.audit, runtime.config.data_dir, token, email, name, password
        )
    except firstrun.SetupUnavailable:
        return page("message.html", request, 404, title="Setup link not valid", message=GONE)
    except ApplianceError as exc:
        return page("setup.html", request, 400, token=token, email=email, name=name, error=str(exc))
    # The wizard goes on to what only an administrator can set: address, host name, e-mail, TLS.
    response = see_other("/admin/settings?welcome=1")
    response.cookies.extend(
        session_cookies(request, runtime, start_session(user, runtime.config.auth))
    )
    return response
