"""The record of a hiring decision that a compliance bundle carries with the composite export
(`appliance recordings export --composite`): the candidate's consent answers for the interview,
every submitted scorecard with all its versions, and the decisions on the candidate for the
position. It names the candidate and holds what the hiring team wrote, so it is sealed under
the recording's data key like the recording itself, and erased with it.
"""

from __future__ import annotations

import json
from typing import Any

from appliance.db.models import (
    Consent,
    Decision,
    Interview,
    Recording,
    RecordingBlob,
    Scorecard,
    ScorecardVersion,
    User,
)
from appliance.recordings.store import BlobSpec, delete_blobs, seal_blob
from appliance.runtime import Runtime

KIND = "decision-record"
FILENAME = "decision-record.json"


def _when(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def record_of(interview: Interview) -> dict[str, Any]:
    candidate = interview.candidate
    consents = Consent.select().where(Consent.interview == interview).order_by(Consent.id)
    cards = (
        Scorecard.select(Scorecard, User)
        .join(User)
        .where((Scorecard.interview == interview) & Scorecard.submitted_at.is_null(False))
        .order_by(Scorecard.submitted_at, Scorecard.id)
    )
    decisions = Decision.select().where(
        (Decision.candidate == candidate)
        & (
            Decision.position.is_null()
            if interview.position_id is None
            else Decision.position == interview.position_id
        )
    )
    return {
        "interview": {
            "id": interview.id,
            "position": interview.position.title if interview.position is not None else None,
            "starts_at": _when(interview.starts_at),
            "ends_at": _when(interview.ends_at),
        },
        "candidate": {"id": candidate.id, "name": candidate.name, "email": candidate.email},
        "consents": [
            {
                "kind": c.kind,
                "granted": bool(c.granted),
                "text_shown": c.text_shown,
                "decided_at": _when(c.decided_at),
            }
            for c in consents
        ],
        "scorecards": [
            {
                "author": card.author.email,
                "from_recording": bool(card.from_recording),
                "after_decision": bool(card.after_decision),
                "versions": [
                    {
                        "number": v.number,
                        "submitted_at": _when(v.submitted_at),
                        "reason": v.reason,
                        "content": json.loads(v.content),
                    }
                    for v in ScorecardVersion.select()
                    .where(ScorecardVersion.scorecard == card)
                    .order_by(ScorecardVersion.number)
                ],
            }
            for card in cards
        ],
        "decisions": [
            {
                "outcome": d.outcome,
                "reason": d.reason,
                "decided_by": d.decided_by.email if d.decided_by is not None else None,
                "decided_at": _when(d.decided_at),
                "without_all_scorecards": bool(d.without_all_scorecards),
            }
            for d in decisions.order_by(Decision.decided_at, Decision.id)
        ],
    }


def seal_record(runtime: Runtime, actor: str, recording: Recording) -> RecordingBlob:
    """The record as it stands now, sealed as a blob of the recording (replacing the last)."""
    body = json.dumps(record_of(recording.interview), indent=2, sort_keys=True).encode()
    made = seal_blob(
        runtime, actor, recording, BlobSpec("", KIND, FILENAME, "application/json"), [body]
    )
    delete_blobs(
        runtime,
        RecordingBlob.select().where(
            (RecordingBlob.recording == recording)
            & (RecordingBlob.kind == KIND)
            & (RecordingBlob.id != made.id)
        ),
    )
    return made
