"""Helpers shared by the server-rendered pages: templates, forms, redirects, the acting user."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from appliance.core.errors import Invalid
from appliance.core.ratelimit import client_address
from appliance.db.models import User
from appliance.hiring import agenda, choices
from appliance.hiring.scheduling import as_utc
from appliance.runtime import Runtime
from appliance.staff.accounts import get_user
from appliance.staff.roles import is_hiring

V = TypeVar("V")
# The JSON lists' page: `?page=` from 1, this many rows each.
API_PAGE_SIZE = 100
PageQuery = Annotated[int, QueryParameter(name="page", ge=1, le=1_000_000)]

FormData = URLEncodedBody[dict[str, str]]
# The process's Runtime, provided to handlers by the app's "runtime" dependency.
AppRuntime = NamedDependency[Runtime]


# What a page says after the form that led to it succeeded (`see_other(path, done="...")`).
DONE = {
    "position-created": "Position created. Add its hiring team and its kit below.",
    "kit-created": "Kit created. Add its competencies and questions below.",
    "candidate-added": "Candidate added. Invite them to an interview below.",
    "saved": "Saved.",
    "sent-again": "Queued: the event goes to the endpoint again within a few seconds.",
    "ai-consent-withdrawn": "Recorded. The evidence drawn from this interview was deleted.",
    "self-identified": "Thank you. Your answers are kept sealed and never shown to the people "
    "who assess you.",
}


def page(
    template: str, request: Request[Any, Any, Any], status_code: int = 200, /, **context: Any
) -> Template:
    """Render `template` with the signed-in user (or None), the confirmation of the form that
    led here (if any), and the given context."""
    done = DONE.get(request.query_params.get("done", "")) if status_code < 400 else None
    return Template(
        template_name=template,
        context={"user": request.scope.get("user"), "done": done, **context},
        status_code=status_code,
    )


def sentence(text: str) -> str:
    """An error message as a page shows it: a capital first letter and a full stop. The
    domain's messages are written to read inside a longer line (the CLI's, the API's detail)."""
    text = str(text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?:" else f"{text}."


def request_address(request: Request[Any, Any, Any]) -> str:
    """The client's address, as the box's own proxy reports it when it is in front."""
    peer = request.client.host if request.client else ""
    return client_address(peer, request.headers.get("x-forwarded-for", ""))


def see_other(path: str, done: str = "") -> Redirect:
    """Post/redirect/get: after a successful form, go to `path` with 303; `done` names the
    confirmation (a key of DONE) that page then shows."""
    if done:
        if done not in DONE:
            raise ValueError(f"no confirmation named {done!r}")
        path, _, fragment = path.partition("#")
        path += ("&" if "?" in path else "?") + f"done={done}"
        path += f"#{fragment}" if fragment else ""
    return Redirect(path=path, status_code=303)


def current_user(request: Request[Any, Any, Any]) -> User:
    """The signed-in user as stored now (a form in this request may just have changed them)."""
    return get_user(request.scope["user"].id)


def actor(request: Request[Any, Any, Any]) -> str:
    """The audit actor for the signed-in user."""
    user: User = request.scope["user"]
    return str(user.email)


def local_path(target: str, fallback: str = "/") -> str:
    """Only same-site paths may be redirect targets (no open redirects)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def position_filter(user: User, chosen: str) -> dict[str, Any]:
    """A list filter's position (templates/picker.html `position_filter`): hiring staff, who see
    every position, search them; the others choose among the few of their own interviews."""
    if is_hiring(user):
        return {"positions": None, "position_label": choices.label_of("positions", chosen)}
    return {"positions": agenda.positions_for(user), "position_label": ""}


def row_view(view: type[V], row: object) -> V:
    """Build an API view dataclass from a model row, field by field; stored times (naive
    UTC) become aware, so they are written with their offset."""
    values = {f.name: getattr(row, f.name) for f in dataclasses.fields(view)}  # type: ignore[arg-type]
    return view(**{k: as_utc(v) if isinstance(v, dt.datetime) else v for k, v in values.items()})


def from_form(fields: type[V], data: Mapping[str, str]) -> V:
    """Build a domain input dataclass from form fields; absent text fields are empty."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(fields):  # type: ignore[arg-type]
        if f.name in data:
            raw = data[f.name]
            values[f.name] = optional_int(raw) if f.type == "int | None" else raw
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values[f.name] = ""
    return fields(**values)


def optional_int(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"'{value}' is not a valid choice") from None


def optional_date(value: str, name: str) -> dt.date | None:
    """A date field (YYYY-MM-DD) of a form or query; empty is None."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"the {name} date is not a date (YYYY-MM-DD)") from None
