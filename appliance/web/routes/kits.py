"""Interview kits: the recruiter's kit editor and the JSON API."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect, Template

from appliance.core.errors import ApplianceError
from appliance.hiring import choices, kits
from appliance.hiring.kits import CompetencyDoc, KitDoc, QuestionDoc
from appliance.web.access import HIRING
from appliance.web.api_document import refusals
from appliance.web.pages import (
    API_PAGE_SIZE,
    AppRuntime,
    FormData,
    PageQuery,
    actor,
    optional_int,
    page,
    see_other,
)
from appliance.web.threads import in_thread


def _competency(data: dict[str, str]) -> CompetencyDoc:
    return CompetencyDoc(
        name=data.get("name", ""),
        description=data.get("description", ""),
        guide=[data.get(f"guide_{level}", "") for level in range(1, kits.LEVELS + 1)],
    )


def _kit_page(
    request: Request[Any, Any, Any],
    kit_id: FromPath[int],
    status: int = 200,
    error: str | None = None,
) -> Template:
    kit = kits.get_kit(kit_id)
    return page(
        "kit.html",
        request,
        status,
        kit=kit,
        doc=kits.kit_document(kit),
        position_label=choices.label_of("positions", kit.position_id),
        levels=range(1, kits.LEVELS + 1),
        error=error,
    )


@get("/kits", opt=HIRING, include_in_schema=False)
@in_thread
def kits_page(
    request: Request[Any, Any, Any],
    q: FromQuery[str] = "",
    page_number: Annotated[str, QueryParameter(name="page")] = "1",
) -> Template:
    return page(
        "kits.html",
        request,
        listed=kits.page_of_kits(q, optional_int(page_number) or 1),
        q=q,
        position_label="",
        form={},
        error=None,
    )


@post("/kits", opt=HIRING, include_in_schema=False)
@in_thread
def add_kit(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: FormData
) -> Template | Redirect:
    try:
        doc = KitDoc(
            name=data.get("name", ""),
            description=data.get("description", ""),
            position_id=optional_int(data.get("position_id", "")),
        )
        kit = kits.create_kit(runtime.audit, actor(request), doc)
    except ApplianceError as exc:
        return page(
            "kits.html",
            request,
            400,
            listed=kits.page_of_kits(),
            q="",
            position_label=choices.label_of("positions", data.get("position_id")),
            form=data,
            error=str(exc),
        )
    return see_other(f"/kits/{kit.id}", done="kit-created")


@get("/kits/{kit_id:int}", opt=HIRING, include_in_schema=False)
@in_thread
def kit_page(request: Request[Any, Any, Any], kit_id: FromPath[int]) -> Template:
    return _kit_page(request, kit_id)


@post("/kits/{kit_id:int}", opt=HIRING, include_in_schema=False)
@in_thread
def edit_kit(
    request: Request[Any, Any, Any], runtime: AppRuntime, kit_id: FromPath[int], data: FormData
) -> Template | Redirect:
    try:
        kits.update_kit(
            runtime.audit,
            actor(request),
            kit_id,
            data.get("name", ""),
            data.get("description", ""),
            optional_int(data.get("position_id", "")),
        )
    except ApplianceError as exc:
        return _kit_page(request, kit_id, 400, str(exc))
    return see_other(f"/kits/{kit_id}")


@post("/kits/{kit_id:int}/competencies", opt=HIRING, include_in_schema=False)
@in_thread
def add_competency(
    request: Request[Any, Any, Any], runtime: AppRuntime, kit_id: FromPath[int], data: FormData
) -> Template | Redirect:
    try:
        competency = kits.add_competency(runtime.audit, actor(request), kit_id, _competency(data))
    except ApplianceError as exc:
        return _kit_page(request, kit_id, 400, str(exc))
    return see_other(f"/kits/{kit_id}#competency-{competency.id}")


@post(
    "/kits/{kit_id:int}/competencies/{competency_id:int}",
    opt=HIRING,
    include_in_schema=False,
)
@in_thread
def edit_competency(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    kit_id: FromPath[int],
    competency_id: FromPath[int],
    data: FormData,
) -> Template | Redirect:
    try:
        kits.update_competency(
            runtime.audit, actor(request), kit_id, competency_id, _competency(data)
        )
    except ApplianceError as exc:
        return _kit_page(request, kit_id, 400, str(exc))
    return see_other(f"/kits/{kit_id}#competency-{competency_id}")


@post(
    "/kits/{kit_id:int}/competencies/{competency_id:int}/delete",
    opt=HIRING,
    include_in_schema=False,
)
@in_thread
def remove_competency(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    kit_id: FromPath[int],
    competency_id: FromPath[int],
) -> Redirect:
    kits.remove_competency(runtime.audit, actor(request), kit_id, competency_id)
    return see_other(f"/kits/{kit_id}")


@post(
    "/kits/{kit_id:int}/competencies/{competency_id:int}/questions",
    opt=HIRING,
    include_in_schema=False,
)
@in_thread
def add_question(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    kit_id: FromPath[int],
    competency_id: FromPath[int],
    data: FormData,
) -> Template | Redirect:
    question = QuestionDoc(text=data.get("text", ""), guidance=data.get("guidance", ""))
    try:
        kits.add_question(runtime.audit, actor(request), kit_id, competency_id, question)
    except ApplianceError as exc:
        return _kit_page(request, kit_id, 400, str(exc))
    return see_other(f"/kits/{kit_id}#competency-{competency_id}")


@post(
    "/kits/{kit_id:int}/questions/{question_id:int}/delete",
    opt=HIRING,
    include_in_schema=False,
)
@in_thread
def remove_question(
    request: Request[Any, Any, Any],
    runtime: AppRuntime,
    kit_id: FromPath[int],
    question_id: FromPath[int],
) -> Redirect:
    kits.remove_question(runtime.audit, actor(request), kit_id, question_id)
    return see_other(f"/kits/{kit_id}")


@get("/api/kits", opt=HIRING, tags=["kits"])
@in_thread
def api_list_kits(q: FromQuery[str] = "", page_number: PageQuery = 1) -> list[KitDoc]:
    """A page of kits by name (`API_PAGE_SIZE` a page), each with its competencies and
    questions, optionally only those whose name holds `q`; an empty page is past the last."""
    listed = kits.page_of_kits(q, page_number, API_PAGE_SIZE)
    return kits.kit_documents(listed.rows) if page_number <= listed.pages else []


@post("/api/kits", responses=refusals(404), opt=HIRING, tags=["kits"])
@in_thread
def api_create_kit(
    request: Request[Any, Any, Any], runtime: AppRuntime, data: JSONBody[KitDoc]
) -> KitDoc:
    """Create a whole kit in one request; nothing is stored if any part is invalid."""
    return kits.kit_document(kits.create_kit(runtime.audit, actor(request), data))


@get("/api/kits/{kit_id:int}", opt=HIRING, tags=["kits"])
@in_thread
def api_get_kit(kit_id: FromPath[int]) -> KitDoc:
    return kits.kit_document(kits.get_kit(kit_id))
