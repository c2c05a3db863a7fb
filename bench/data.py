"""Every list page's time as the box fills up: a page must cost its rows, not the table's.

Run: .venv/bin/python bench/data.py [--sizes S,M,L] [--repeats 5] [--keep DIR]

With --keep, the data dirs stay in DIR, and a later run with the same DIR measures them again
without filling them anew.

Each size is a fresh data dir, filled through the product's own functions where a person
would create the thing (users, positions, kits with competencies and questions, interview
types, candidates: each audited as in use) and in bulk through the models for what piles up
by itself (past interviews with their panels, outbox messages), then the audit log is topped
up to its size with real, chained entries:

    size  positions  kits  interview types  candidates  interviews  outbox   audit entries
    S        20        20        10             200          500     1,500        5,000
    M       200       200       100           2,000        5,000    15,000       50,000
    L     2,000     2,000     1,000          20,000       50,000   150,000      500,000

Every page is then read by an administrator through the real web app in this process (warmed
once, then the median of --repeats). The report gives each page's time at each size and its
growth from the smallest size to the largest against the tables' growth (100x from S to L);
the goal is at most 200 ms a page at L, and growth far below the tables'.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from litestar.testing import TestClient  # noqa: E402

from appliance.box.datadir import initialize  # noqa: E402
from appliance.core.config import load_config  # noqa: E402
from appliance.db.models import (  # noqa: E402
    AuditEntry,
    Interview,
    InterviewParticipant,
    OutboxMessage,
    User,
)
from appliance.hiring import kits, positions, scheduling  # noqa: E402
from appliance.hiring.candidates import CandidateFields, create_candidate  # noqa: E402
from appliance.hiring.kits import CompetencyDoc, KitDoc, QuestionDoc  # noqa: E402
from appliance.hiring.positions import PositionFields  # noqa: E402
from appliance.runtime import Runtime, open_runtime  # noqa: E402
from appliance.staff.accounts import create_user  # noqa: E402
from appliance.web.app import create_app  # noqa: E402

PASSWORD = "correct horse battery"
SIZES = {
    "S": 1,
    "M": 10,
    "L": 100,
}
# Rows at scale 1 (size S).
BASE = {
    "positions": 20,
    "kits": 20,
    "interview_types": 10,
    "candidates": 200,
    "interviews": 500,
    "outbox": 1500,
    "audit": 5000,
}
BATCH = 500
GOAL_MS = 200.0


def seed(runtime: Runtime, scale: int) -> dict[str, int]:
    """Fill a fresh box to `scale` times BASE; returns how many of each it holds."""
    audit = runtime.audit
    admin = create_user(audit, "bench", "admin@example.com", "admin", PASSWORD, "Ada Admin")
    panel = [
        create_user(audit, "bench", f"i{n}@example.com", "interviewer", PASSWORD, f"Ivy {n}")
        for n in range(8)
    ]
    count = {name: rows * scale for name, rows in BASE.items()}
    with runtime.db.atomic():
        position_ids = [
            positions.create_position(
                audit, "bench", PositionFields(f"Engineer {n:05d}", "R&D", "Berlin")
            ).id
            for n in range(count["positions"])
        ]
        kit_ids = [
            kits.create_kit(
                audit,
                "bench",
                KitDoc(
                    f"Loop {n:05d}",
                    position_id=position_ids[n % len(position_ids)],
                    competencies=[
                        CompetencyDoc(
                            f"Competency {c}",
                            guide=[f"Level {level}" for level in range(1, 6)],
                            questions=[QuestionDoc(f"Question {c}.{q}") for q in range(2)],
                        )
                        for c in range(3)
                    ],
                ),
            ).id
            for n in range(count["kits"])
        ]
        for n in range(count["interview_types"]):
            scheduling.create_interview_type(
                audit,
                "bench",
                f"Round {n:05d}",
                45,
                [panel[n % len(panel)].id, panel[(n + 1) % len(panel)].id],
                kit_ids[n % len(kit_ids)],
            )
    candidate_ids: list[int] = []
    for start in range(0, count["candidates"], BATCH):
        with runtime.db.atomic():
            for n in range(start, min(start + BATCH, count["candidates"])):
                fields = CandidateFields(
                    f"Person {n:06d}",
                    f"person{n:06d}@example.com",
                    position_id=position_ids[n % len(position_ids)],
                )
                candidate_ids.append(create_candidate(audit, "bench", fields).id)
    _pile_up(runtime, count, admin, panel, candidate_ids, position_ids, kit_ids)
    return count


def _pile_up(
    runtime: Runtime,
    count: dict[str, int],
    admin: User,
    panel: list[User],
    candidate_ids: list[int],
    position_ids: list[int],
    kit_ids: list[int],
) -> None:
    """What accumulates by itself: a year of past interviews and a month ahead, the mail they
    sent, and the audit log's entries."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    span = dt.timedelta(days=395) / max(1, count["interviews"])
    for start in range(0, count["interviews"], BATCH):
        with runtime.db.atomic():
            rows = []
            for n in range(start, min(start + BATCH, count["interviews"])):
                starts = now - dt.timedelta(days=365) + span * n
                rows.append(
                    {
                        "candidate": candidate_ids[n % len(candidate_ids)],
                        "position": position_ids[n % len(position_ids)],
                        "kit": kit_ids[n % len(kit_ids)],
                        "starts_at": starts,
                        "ends_at": starts + dt.timedelta(minutes=45),
                        "status": "completed" if starts < now else "scheduled",
                        "created_by": admin.id,
                    }
                )
            first = Interview.insert_many(rows).execute()
            ids = range(first - len(rows) + 1, first + 1)
            InterviewParticipant.insert_many(
                [{"interview": i, "user": panel[i % len(panel)].id} for i in ids]
            ).execute()
    for start in range(0, count["outbox"], BATCH):
        with runtime.db.atomic():
            OutboxMessage.insert_many(
                [
                    {
                        "recipient": f"person{n % len(candidate_ids):06d}@example.com",
                        "subject": f"Your interview {n}",
                        "body": "Hello,\n\nyour interview is booked.\n" * 8,
                        "status": "sent" if n % 10 else "manual",
                        "sent_at": now,
                    }
                    for n in range(start, min(start + BATCH, count["outbox"]))
                ]
            ).execute()
    missing = count["audit"] - AuditEntry.select().count()
    for start in range(0, max(0, missing), BATCH):
        with runtime.db.atomic():
            for n in range(start, min(start + BATCH, missing)):
                runtime.audit.record("bench", "candidate.view", f"candidate:{n % 997 + 1}")


def pages(candidate_id: int) -> list[str]:
    return [
        "/candidates",
        "/candidates?q=Person%200001",
        "/candidates?page=4",
        f"/candidates/{candidate_id}",
        "/positions",
        "/positions?q=0001",
        "/kits",
        "/interview-types",
        "/interviews",
        "/recordings",
        "/outbox",
        "/audit",
        "/calibration",
        "/api/candidates",
        "/api/positions",
        "/api/kits",
        "/api/choices/positions?q=01",
    ]


def sign_in(client: TestClient) -> None:  # type: ignore[type-arg]
    form = client.get("/login", headers={"accept": "text/html"}).text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form)
    assert token, "no sign-in form"
    answer = client.post(
        "/login",
        data={
            "_csrf_token": token.group(1),
            "email": "admin@example.com",
            "password": PASSWORD,
            "code": "",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def measure(runtime: Runtime, repeats: int) -> dict[str, tuple[float, int, int]]:
    """Each page's median time in ms, its status and its size in bytes."""
    results: dict[str, tuple[float, int, int]] = {}
    with TestClient(app=create_app(runtime), base_url="http://127.0.0.1") as client:
        sign_in(client)
        for path in pages(candidate_id=1):
            accept = "application/json" if path.startswith("/api/") else "text/html"
            answer = client.get(path, headers={"accept": accept})  # warm
            times = []
            for _ in range(repeats):
                began = time.perf_counter()
                answer = client.get(path, headers={"accept": accept})
                times.append((time.perf_counter() - began) * 1000)
            results[path] = (statistics.median(times), answer.status_code, len(answer.content))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,M", help="comma-separated, from S, M, L")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the data dirs here")
    args = parser.parse_args()
    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    if not sizes or any(s not in SIZES for s in sizes):
        parser.error(f"sizes are among {', '.join(SIZES)}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="parley-bench-data-"))
    table: dict[str, dict[str, tuple[float, int, int]]] = {}
    for size in sizes:
        data_dir = root / f"data-{size}"
        database = data_dir / "appliance.db"
        config = load_config(data_dir, environ={})
        reused = database.exists()  # a data dir kept by an earlier run: measured as it is
        if not reused:
            initialize(config)
        runtime = open_runtime(config)
        try:
            began = time.monotonic()
            count = {} if reused else seed(runtime, SIZES[size])
            seeded = time.monotonic() - began
            megabytes = database.stat().st_size / 1e6 if database.exists() else 0.0
            print(
                f"size {size}: "
                + (f"reused {data_dir}" if reused else f"seeded in {seeded:.0f} s")
                + f", database {megabytes:.0f} MB: "
                + ", ".join(f"{name} {rows:,}" for name, rows in count.items()),
                flush=True,
            )
            table[size] = measure(runtime, args.repeats)
        finally:
            runtime.close()
    report(table, sizes)
    if args.keep is None:
        print(f"(data dirs left in {root}; delete them when done)")
    return 0


def report(table: dict[str, dict[str, tuple[float, int, int]]], sizes: list[str]) -> None:
    first, last = sizes[0], sizes[-1]
    rows_growth = SIZES[last] / SIZES[first]
    header = "".join(f"{s + ' ms':>10}" for s in sizes)
    print(f"\n{'page':<34}{header}{'growth':>9}{'kB at ' + last:>12}  status")
    over = []
    for path in table[first]:
        times = [table[s][path][0] for s in sizes]
        growth = times[-1] / times[0] if times[0] > 0 else float("nan")
        statuses = {table[s][path][1] for s in sizes}
        cells = "".join(f"{t:>10.1f}" for t in times)
        kilobytes = table[last][path][2] / 1000
        print(f"{path:<34}{cells}{growth:>8.1f}x{kilobytes:>12.1f}  {sorted(statuses)}")
        if times[-1] > GOAL_MS:
            over.append(path)
    print(f"\nthe tables grew {rows_growth:.0f}x from {first} to {last}; goal: at most "
          f"{GOAL_MS:.0f} ms a page at the largest size")  # fmt: skip
    print("over the goal: " + (", ".join(over) if over else "none"))


if __name__ == "__main__":
    sys.exit(main())
