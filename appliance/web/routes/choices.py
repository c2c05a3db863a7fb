"""The search box that chooses a position, kit or interview type asks here."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath, FromQuery

from appliance.hiring import choices
from appliance.hiring.choices import Choice, Kind
from appliance.web.access import HIRING
from appliance.web.threads import in_thread


@get("/api/choices/{kind:str}", opt=HIRING, tags=["choices"])
@in_thread
def api_choices(kind: FromPath[Kind], q: FromQuery[str] = "") -> list[Choice]:
    """At most 20 of `kind`, by name, whose name holds `q`."""
    return choices.find(kind, q)
