"""Voluntary self-identification: what a candidate may choose to say about their sex and their
race or ethnicity, only so that the hiring process (the AI assistance above all) can be checked
for adverse impact (evidence/impact_ratio.py), as New York City's Local Law 144 asks of bias
audits. Every answer is optional and "I prefer not to say" is always offered.

The answers are sealed with a data key of their own, so erasing the candidate destroys the key
and nothing is left to open; they are opened only for the report, and each opening is audited.
Nothing here is ever shown to interviewers or to the hiring team.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from appliance.core.errors import Invalid
from appliance.db.models import Candidate, SelfIdentification
from appliance.runtime import Runtime
from appliance.storage import keystore
from appliance.storage.sealed_fields import open_text, seal_text

DECLINED = "declined"
# The EEO-1 categories bias audits under Local Law 144 report on.
SEX = {"female": "Female", "male": "Male"}
RACE_ETHNICITY = {
    "hispanic_latino": "Hispanic or Latino",
    "white": "White",
    "black": "Black or African American",
    "pacific_islander": "Native Hawaiian or Other Pacific Islander",
    "asian": "Asian",
    "american_indian": "American Indian or Alaska Native",
    "two_or_more": "Two or more races",
}
FIELDS = {"sex": SEX, "race_ethnicity": RACE_ETHNICITY}


def _context(candidate_id: int) -> str:
    return f"candidate:{candidate_id}/self-identification"


def record(runtime: Runtime, candidate: Candidate, answers: dict[str, str]) -> None:
    """Stores the candidate's answers (replacing earlier ones); an empty or "declined" answer
    is kept as declined. Audited without the answers."""
    clean = {}
    for name, allowed in FIELDS.items():
        value = answers.get(name, "") or DECLINED
        if value != DECLINED and value not in allowed:
            raise Invalid(f"{name.replace('_', ' ')}: choose one of the answers offered")
        clean[name] = value
    key_id, data_key = keystore.new_data_key(runtime.db, runtime.config.data_dir)
    sealed = seal_text(data_key, key_id, _context(candidate.id), json.dumps(clean))
    with runtime.db.atomic():
        old = SelfIdentification.get_or_none(SelfIdentification.candidate == candidate)
        if old is not None:
            keystore.destroy(bytes.fromhex(old.key_id))
            old.delete_instance()
        SelfIdentification.create(candidate=candidate, key_id=key_id.hex(), sealed=sealed)
    runtime.audit.record(
        f"candidate:{candidate.id}", "self_identification.record", f"candidate:{candidate.id}"
    )


def given(candidate: Candidate) -> bool:
    return SelfIdentification.select().where(SelfIdentification.candidate == candidate).exists()


def open_for(
    runtime: Runtime, actor: str, candidates: Collection[int]
) -> dict[int, dict[str, str]]:
    """The answers of `candidates` (no others are opened), by candidate id, for the
    impact-ratio report; audited once per opening, with how many were opened. An answer whose
    key is gone is left out."""
    rows = list(
        SelfIdentification.select().where(SelfIdentification.candidate.in_(list(candidates)))
    )
    keys = keystore.unwrap_many(runtime.config.data_dir, [bytes.fromhex(r.key_id) for r in rows])
    opened = {}
    for row in rows:
        key = keys.get(bytes.fromhex(row.key_id))
        if key is None:
            continue
        text = open_text(
            key, bytes.fromhex(row.key_id), _context(row.candidate_id), bytes(row.sealed)
        )
        opened[row.candidate_id] = json.loads(text)
    runtime.audit.record(actor, "self_identification.open", "impact-ratio", {"count": len(opened)})
    return opened
