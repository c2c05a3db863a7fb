"""The impact-ratio report: selection rates per self-identified category among candidates
decided with the AI assistant on, as a bias audit under New York City's Local Law 144 sets them
out.

Who counts: candidates whose interviews had evidence drawn (they consented to AI assistance and
the assistant ran) and whose decision in force is to advance or to offer (selected) or to
reject (not selected); on hold or undecided, they are left out. A category's selection rate is
its selected over its counted candidates; its impact ratio is that rate over the highest rate of
any category with enough candidates to compare. A category with fewer than SMALL_SAMPLE
candidates is shown with a warning and left out of the comparison (a rate from a handful of
people says little). Candidates who declined to answer are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.db.models import Decision, EvidenceFeature, Interview, Recording
from appliance.evidence.self_identification import DECLINED, RACE_ETHNICITY, SEX, open_for
from appliance.runtime import Runtime

SELECTED = ("advance", "offer")
NOT_SELECTED = ("reject",)
SMALL_SAMPLE = 5


@dataclass(frozen=True)
class Category:
    name: str
    candidates: int
    selected: int
    rate: float | None
    impact_ratio: float | None  # None: too few to compare, or no rate to compare with
    small: bool


@dataclass(frozen=True)
class Table:
    title: str
    categories: list[Category]
    declined: int  # counted candidates who did not say


@dataclass(frozen=True)
class Report:
    counted: int  # decided candidates with evidence
    tables: list[Table]


def _decided_with_assistant() -> dict[int, bool]:
    """Candidate id → selected, for candidates decided whose interviews had evidence."""
    assisted = {
        i.candidate_id
        for i in Interview.select(Interview.candidate)
        .join(Recording)
        .join(EvidenceFeature)
        .distinct()
    }
    latest: dict[int, str] = {}
    for decision in Decision.select().order_by(Decision.decided_at, Decision.id):
        latest[decision.candidate_id] = decision.outcome
    return {
        candidate: outcome in SELECTED
        for candidate, outcome in latest.items()
        if candidate in assisted and outcome in SELECTED + NOT_SELECTED
    }


def _table(
    title: str, labels: dict[str, str], groups: dict[str, list[bool]], declined: int
) -> Table:
    rates = {key: sum(members) / len(members) for key, members in groups.items() if members}
    comparable = [rates[k] for k in rates if len(groups[k]) >= SMALL_SAMPLE]
    best = max(comparable, default=0.0)
    categories = []
    for key, label in labels.items():
        members = groups.get(key, [])
        small = len(members) < SMALL_SAMPLE
        rate = rates.get(key)
        ratio = rate / best if rate is not None and not small and best > 0 else None
        categories.append(Category(label, len(members), sum(members), rate, ratio, small))
    return Table(title, categories, declined)


def report(runtime: Runtime, actor: str) -> Report:
    decided = _decided_with_assistant()
    answers = open_for(runtime, actor, decided)
    tables = []
    for field, labels, title in (
        ("sex", SEX, "Sex"),
        ("race_ethnicity", RACE_ETHNICITY, "Race or ethnicity"),
    ):
        groups: dict[str, list[bool]] = {}
        declined = 0
        for candidate, selected in decided.items():
            value = answers.get(candidate, {}).get(field, DECLINED)
            if value == DECLINED:
                declined += 1
            else:
                groups.setdefault(value, []).append(selected)
        tables.append(_table(title, labels, groups, declined))
    crossed = {f"{s}/{r}": f"{SEX[s]}, {RACE_ETHNICITY[r]}" for s in SEX for r in RACE_ETHNICITY}
    groups = {}
    declined = 0
    for candidate, selected in decided.items():
        given = answers.get(candidate, {})
        sex, race = given.get("sex", DECLINED), given.get("race_ethnicity", DECLINED)
        if DECLINED in (sex, race):
            declined += 1
        else:
            groups.setdefault(f"{sex}/{race}", []).append(selected)
    tables.append(_table("Sex and race or ethnicity together", crossed, groups, declined))
    return Report(len(decided), tables)
