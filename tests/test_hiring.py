"""Positions, candidates and interview kits: domain rules, pages and the JSON API."""

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from appliance.core.errors import ApplianceError, NotFound
from appliance.db.models import AuditEntry, Candidate, Competency, Kit, Position, Question
from appliance.hiring import kits, positions
from appliance.hiring.candidates import CandidateFields, create_candidate, list_candidates
from appliance.hiring.kits import CompetencyDoc, KitDoc, QuestionDoc
from appliance.hiring.positions import PositionFields
from appliance.runtime import Runtime
from tests.conftest import api_headers, make_user, post_form, sign_in

GUIDE = ["No evidence", "Some", "Solid", "Strong", "Exceptional"]


def _kit_doc() -> KitDoc:
    return KitDoc(
        name="Backend engineer",
        competencies=[
            CompetencyDoc(
                name="System design",
                guide=GUIDE,
                questions=[
                    QuestionDoc(text="Design a URL shortener"),
                    QuestionDoc(text="Scale it"),
                ],
            ),
            CompetencyDoc(name="Collaboration", guide=GUIDE),
        ],
    )


@pytest.fixture
def recruiter_client(client: TestClient[Litestar], runtime: Runtime) -> TestClient[Litestar]:
    make_user(runtime, "recruiter")
    assert sign_in(client, "recruiter@example.com") == 303
    return client


def test_position_fields_are_validated(runtime: Runtime) -> None:
    with pytest.raises(ApplianceError, match="Title is required"):
        positions.create_position(runtime.audit, "t", PositionFields(title="  "))
    with pytest.raises(ApplianceError, match="Status must be one of"):
        positions.create_position(runtime.audit, "t", PositionFields(title="Eng", status="gone"))
    assert Position.select().count() == 0


def test_candidate_needs_an_existing_position_and_a_valid_email(runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        create_candidate(
            runtime.audit, "t", CandidateFields("Ann", "ann@example.com", position_id=42)
        )
    with pytest.raises(ApplianceError, match="e-mail"):
        create_candidate(runtime.audit, "t", CandidateFields("Ann", "not-an-address"))
    position = positions.create_position(runtime.audit, "t", PositionFields(title="Eng"))
    candidate = create_candidate(
        runtime.audit, "t", CandidateFields("Ann", " Ann@Example.com ", position_id=position.id)
    )
    assert candidate.email == "ann@example.com"
    assert [c.id for c in list_candidates(position.id).rows] == [candidate.id]


def test_candidate_audit_entries_hold_no_personal_data(runtime: Runtime) -> None:
    create_candidate(runtime.audit, "t", CandidateFields("Zed Zulu", "zed@example.com"))
    entry = AuditEntry.get(AuditEntry.action == "candidate.create")
    assert (
        "Zed" not in entry.details + entry.subject and "zed@" not in entry.details + entry.subject
    )


def test_kit_document_round_trips_in_order(runtime: Runtime) -> None:
    kit = kits.create_kit(runtime.audit, "t", _kit_doc())
    doc = kits.kit_document(kit)
    assert [c.name for c in doc.competencies] == ["System design", "Collaboration"]
    assert doc.competencies[0].guide == GUIDE
    assert [q.text for q in doc.competencies[0].questions] == ["Design a URL shortener", "Scale it"]


def test_an_invalid_part_stores_nothing_of_the_kit(runtime: Runtime) -> None:
    doc = _kit_doc()
    doc.competencies[1].guide = ["only", "three", "levels"]
    with pytest.raises(ApplianceError, match="exactly 5 levels"):
        kits.create_kit(runtime.audit, "t", doc)
    assert (Kit.select().count(), Competency.select().count(), Question.select().count()) == (
        0,
        0,
        0,
    )


def test_removing_a_competency_removes_its_questions(runtime: Runtime) -> None:
    kit = kits.create_kit(runtime.audit, "t", _kit_doc())
    design = kits.kit_document(kit).competencies[0]
    assert design.id is not None
    kits.remove_competency(runtime.audit, "t", kit.id, design.id)
    assert Question.select().count() == 0
    with pytest.raises(NotFound):
        kits.add_question(runtime.audit, "t", kit.id, design.id, QuestionDoc(text="orphan"))


def test_kit_editor_pages(recruiter_client: TestClient[Litestar]) -> None:
    client = recruiter_client
    created = post_form(
        client, "/kits", {"name": "Support lead", "description": "", "position_id": ""}
    )
    assert created.status_code == 303
    path = created.headers["location"].partition("?")[0]
    competency = {"name": "Empathy", "description": "Reads the customer"}
    competency |= {f"guide_{n}": GUIDE[n - 1] for n in range(1, 6)}
    assert post_form(client, f"{path}/competencies", competency).status_code == 303
    competency_id = Competency.get().id
    added = post_form(
        client,
        f"{path}/competencies/{competency_id}/questions",
        {"text": "Tell me about an angry customer"},
    )
    assert added.status_code == 303
    page = client.get(path, headers={"accept": "text/html"})
    assert "Empathy" in page.text and "angry customer" in page.text and "Exceptional" in page.text
    empty = post_form(client, f"{path}/competencies/{competency_id}/questions", {"text": " "})
    assert empty.status_code == 400 and "Question is required" in empty.text
    assert Question.select().count() == 1


def test_position_and_candidate_pages_show_form_errors(
    recruiter_client: TestClient[Litestar],
) -> None:
    client = recruiter_client
    bad = post_form(client, "/positions", {"title": "", "status": "open"})
    assert bad.status_code == 400 and "Title is required" in bad.text
    good = post_form(client, "/positions", {"title": "Data engineer", "status": "open"})
    assert good.status_code == 303
    position_id = Position.get().id
    assert good.headers["location"] == f"/positions/{position_id}?done=position-created"
    created = client.get(good.headers["location"]).text
    assert '<p class="card ok" role="status">Position created.' in created
    assert 'role="status">' not in client.get(f"/positions/{position_id}?done=other").text
    kit = post_form(client, "/kits", {"name": "Data kit", "position_id": str(position_id)})
    assert "Kit created." in client.get(kit.headers["location"]).text
    bad = post_form(
        client, "/candidates", {"name": "Bo", "email": "bo@", "position_id": str(position_id)}
    )
    assert bad.status_code == 400 and "not a valid e-mail" in bad.text
    assert 'value="Bo"' in bad.text
    good = post_form(
        client,
        "/candidates",
        {"name": "Bo", "email": "bo@example.com", "position_id": str(position_id)},
    )
    assert good.status_code == 303
    assert Candidate.get().position_id == position_id
    assert "Candidate added." in client.get(good.headers["location"]).text


def test_api_creates_and_reads_a_whole_kit(recruiter_client: TestClient[Litestar]) -> None:
    client = recruiter_client
    body = {
        "name": "Designer",
        "competencies": [
            {"name": "Craft", "guide": GUIDE, "questions": [{"text": "Walk me through a project"}]}
        ],
    }
    created = client.post("/api/kits", json=body, headers=api_headers(client))
    assert created.status_code == 201, created.text
    kit_id = created.json()["id"]
    fetched = client.get(f"/api/kits/{kit_id}").json()
    assert fetched["competencies"][0]["questions"][0]["text"] == "Walk me through a project"
    assert client.get("/api/kits/999").status_code == 404


def test_api_rejects_bad_bodies_without_storing(recruiter_client: TestClient[Litestar]) -> None:
    client = recruiter_client
    headers = api_headers(client)
    assert client.post("/api/positions", json={"title": ""}, headers=headers).status_code == 400
    assert client.post("/api/positions", json={"nope": 1}, headers=headers).status_code == 400
    malformed = client.post(
        "/api/kits",
        content=b'{"name": "x", "competencies": [',
        headers={**headers, "content-type": "application/json"},
    )
    assert malformed.status_code == 400
    misspelt = {"name": "Kit", "competencies": [{"name": "C", "questions": [{"txt": "Why?"}]}]}
    unknown = client.post("/api/kits", json=misspelt, headers=headers)
    assert unknown.status_code == 400, unknown.text
    assert "competencies[0].questions[0].txt" in unknown.json()["detail"]
    typo = client.post("/api/positions", json={"title": "Engineer", "titel": "x"}, headers=headers)
    assert typo.status_code == 400 and "'titel'" in typo.json()["detail"]
    assert Position.select().count() == 0 and Kit.select().count() == 0


def test_api_updates_a_position(recruiter_client: TestClient[Litestar]) -> None:
    client = recruiter_client
    headers = api_headers(client)
    created = client.post("/api/positions", json={"title": "QA"}, headers=headers).json()
    updated = client.put(
        f"/api/positions/{created['id']}",
        json={"title": "QA lead", "status": "on_hold"},
        headers=headers,
    )
    assert updated.status_code == 200 and updated.json()["status"] == "on_hold"
    assert Position.get().title == "QA lead"


def test_the_candidates_list_pages_and_finds_by_name_or_email(
    recruiter_client: TestClient[Litestar],
) -> None:
    for n in range(120):
        Candidate.create(name=f"Person {n:03d}", email=f"p{n:03d}@example.com")
    Candidate.create(name="Zoë Quill", email="quill@writers.example")
    page = recruiter_client.get("/candidates")
    assert "121 candidates, page 1 of 3" in page.text
    assert page.text.count('<tr><td><a href="/candidates/') == 50
    assert "Person 000" in page.text and "Person 050" not in page.text
    assert 'href="/candidates?q=&amp;page=2" rel="next"' in page.text
    last = recruiter_client.get("/candidates?page=3")
    assert last.text.count('<tr><td><a href="/candidates/') == 21 and "Zoë Quill" in last.text
    found = recruiter_client.get("/candidates?q=WRITERS")
    assert "1 candidate." in found.text and "Zoë Quill" in found.text
    assert "holds “nobody”" in recruiter_client.get("/candidates?q=nobody").text
    headers = api_headers(recruiter_client)
    pages = [
        recruiter_client.get(f"/api/candidates?page={n}", headers=headers).json() for n in (1, 2, 3)
    ]
    assert [len(p) for p in pages] == [100, 21, 0]
    assert len({c["id"] for p in pages for c in p}) == 121
    search = recruiter_client.get("/api/candidates?q=p11", headers=headers).json()
    assert [c["name"] for c in search] == [f"Person {n}" for n in range(110, 120)]
    assert recruiter_client.get("/api/candidates?page=0", headers=headers).status_code == 400


def test_every_kit_is_read_in_a_fixed_number_of_queries(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(30):
        kit = Kit.create(name=f"Kit {n:02d}")
        for c in range(2):
            competency = Competency.create(kit=kit, name=f"C{c}", ordinal=c)
            for q in range(2):
                Question.create(kit=kit, competency=competency, text=f"Q{n}.{c}.{q}", ordinal=q)
    one_by_one = [kits.kit_document(kit) for kit in kits.list_kits()]
    statements: list[str] = []
    execute = runtime.db.execute_sql

    def counting(sql: str, *args: object, **kwargs: object) -> object:
        statements.append(sql)
        return execute(sql, *args, **kwargs)

    monkeypatch.setattr(runtime.db, "execute_sql", counting)
    together = kits.kit_documents(kits.list_kits())
    assert together == one_by_one
    assert len(statements) == 3  # the kits, their competencies, their questions
    assert [q.text for q in together[29].competencies[1].questions] == ["Q29.1.0", "Q29.1.1"]


def test_the_positions_and_kits_lists_page_and_find_by_name(
    recruiter_client: TestClient[Litestar],
) -> None:
    for n in range(60):
        position = Position.create(title=f"Engineer {n:02d}")
        Kit.create(name=f"Loop {n:02d}", position=position)
    Position.create(title="Welder")
    Kit.create(name="Welding")
    lists = (
        ("/positions", "positions", "Welder", "Engineer 00"),
        ("/kits", "kits", "Welding", "Loop 00"),
    )
    for path, noun, found, other in lists:
        first = recruiter_client.get(path).text
        assert f"61 {noun}, page 1 of 2" in first and found not in first
        assert f'href="{path}?q=&amp;page=2" rel="next"' in first
        assert found in recruiter_client.get(f"{path}?page=2").text
        search = recruiter_client.get(f"{path}?q=weld").text
        assert found in search and f"1 {noun[:-1]}." in search and other not in search
        assert "holds “nothing”" in recruiter_client.get(f"{path}?q=nothing").text
    headers = api_headers(recruiter_client)
    for path, key in (("/api/positions", "title"), ("/api/kits", "name")):
        for n in range(61, 150):
            Position.create(title=f"Engineer {n:03d}") if key == "title" else Kit.create(
                name=f"Loop {n:03d}"
            )
        pages = [
            recruiter_client.get(f"{path}?page={n}", headers=headers).json() for n in (1, 2, 3)
        ]
        assert [len(p) for p in pages] == [100, 50, 0]
        assert len({row["id"] for p in pages for row in p}) == 150
        found = recruiter_client.get(f"{path}?q=WELD", headers=headers).json()
        assert [row[key] for row in found] == (["Welder"] if key == "title" else ["Welding"])


def test_a_form_chooses_from_many_by_searching_not_from_a_list_of_all(
    recruiter_client: TestClient[Litestar],
) -> None:
    for n in range(300):
        Position.create(title=f"Engineer {n:03d}", status="closed" if n == 7 else "open")
    kit = Kit.create(name="Loop", position=Position.get(Position.title == "Engineer 042"))
    candidate = Candidate.create(name="Sam", email="sam@example.com", position=kit.position)
    headers = api_headers(recruiter_client)
    for path in ("/candidates", f"/candidates/{candidate.id}", "/kits", f"/kits/{kit.id}"):
        text = recruiter_client.get(path).text
        assert text.count("<option") <= 6 and "Engineer 100" not in text, path  # statuses only
    edit = recruiter_client.get(f"/candidates/{candidate.id}").text
    assert 'name="position_id" value="' + str(kit.position_id) + '"' in edit
    assert 'value="Engineer 042"' in edit  # the current choice, by name
    found = recruiter_client.get("/api/choices/positions?q=engineer 00", headers=headers).json()
    assert [c["label"] for c in found] == [
        *(f"Engineer {n:03d}" for n in range(7)),
        "Engineer 007 (closed)",
        "Engineer 008",
        "Engineer 009",
    ]
    assert len(recruiter_client.get("/api/choices/positions", headers=headers).json()) == 20
    kits_found = recruiter_client.get("/api/choices/kits?q=lo", headers=headers).json()
    assert kits_found == [{"id": kit.id, "label": "Loop"}]
    assert recruiter_client.get("/api/choices/people", headers=headers).status_code == 400
