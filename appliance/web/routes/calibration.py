"""The calibration report for administrators and recruiters: each interviewer's scores against
the panel's on the same candidates (evaluation/calibration.py), as a page and as CSV."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from appliance.evaluation import calibration
from appliance.hiring import choices
from appliance.web.access import HIRING
from appliance.web.pages import current_user, optional_date, optional_int, page
from appliance.web.threads import in_thread


def _report(
    request: Request[Any, Any, Any], position: str, since: str, until: str
) -> calibration.Report:
    return calibration.report(
        optional_int(position),
        optional_date(since, "from"),
        optional_date(until, "to"),
        current_user(request),
    )


@get("/calibration", opt=HIRING, include_in_schema=False)
@in_thread
def calibration_page(
    request: Request[Any, Any, Any],
    position: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
) -> Template:
    form = {"position": position, "since": since, "until": until}
    return page(
        "calibration.html",
        request,
        report=_report(request, position, since, until),
        form=form,
        position_label=choices.label_of("positions", position),
        minimum=calibration.MIN_COMPARISONS,
        lean=calibration.LEAN,
    )


@get("/calibration.csv", opt=HIRING, include_in_schema=False)
@in_thread
def calibration_csv(
    request: Request[Any, Any, Any],
    position: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
) -> Response[str]:
    return Response(
        calibration.as_csv(_report(request, position, since, until)),
        media_type="text/csv",
        headers={"content-disposition": 'attachment; filename="calibration.csv"'},
    )
