"""Evidence per competency from a real embedding model: the right answers rank first, with
and without the panel's ticks; unreadable or oversized input is refused with one message."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from appliance.core.errors import Invalid
from appliance.evidence.documents import kit_competencies, read_json, transcript_utterances
from appliance.evidence.embedder import Embedder
from appliance.evidence.ranking import (
    MAX_SEGMENTS,
    METHOD,
    Asked,
    EvidenceRefused,
    KitCompetency,
    KitQuestion,
    Utterance,
    rank,
)

PANEL, CANDIDATE = "Dana Whitfield", "Sam Okafor"
KIT = [
    KitCompetency(
        1,
        "Handling conflict",
        "Resolves disagreements with colleagues constructively.",
        ["Avoids or escalates conflict.", "", "Finds common ground.", "", "Turns conflict into "
         "better decisions for the team."],
        [KitQuestion(11, "Tell us about a disagreement with a colleague and how you resolved it.")],
    ),
    KitCompetency(
        2,
        "Data analysis",
        "Uses data and queries to answer business questions.",
        ["Cannot read a chart.", "", "Writes basic queries.", "", "Designs analyses that change "
         "decisions."],
        [KitQuestion(21, "Walk us through an analysis you did with data that changed a decision.")],
    ),
]  # fmt: skip
LINES = [
    (PANEL, "Hi Sam, thanks for coming in today."),
    (CANDIDATE, "Thanks, the traffic on the way here was terrible but I made it."),
    (PANEL, "Tell me about a time you disagreed with a colleague and how you worked it out."),
    (CANDIDATE, "My lead wanted to ship without tests and I thought that was risky."),
    (CANDIDATE, "We sat down, listened to each other's worries and agreed on a smaller release "
     "with the critical tests, which we both could live with."),
    (PANEL, "Now walk us through an analysis with data that changed a decision."),
    (CANDIDATE, "I pulled a year of churn figures with SQL, joined them to support tickets, and "
     "showed that slow responses predicted cancellations, so we hired two more agents."),
    (PANEL, "Great. Do you have any questions for us?"),
    (CANDIDATE, "Is there parking near the office?"),
]  # fmt: skip


def utterances() -> list[Utterance]:
    return [Utterance(i * 10.0, i * 10.0 + 9.0, who, text) for i, (who, text) in enumerate(LINES)]


def best(evidence_quotes: list[str]) -> str:
    return evidence_quotes[0]


@pytest.mark.parametrize("ticked", [True, False])
def test_each_competency_gets_its_own_answer_first(embedder: Embedder, ticked: bool) -> None:
    asked = [Asked(11, 25.0), Asked(21, 55.0)] if ticked else []
    found = rank(embedder, KIT, utterances(), CANDIDATE, asked=asked)
    conflict, data = found.competencies
    assert "ship without tests" in conflict.quotes[0].quote
    assert "churn figures" in data.quotes[0].quote
    assert all("parking" not in q.quote and "traffic" not in q.quote for q in data.quotes)
    assert found.asked_inferred is not ticked
    # Without ticks, each question is found where the interviewer asked it.
    assert [(a.question_id, a.at) for a in found.asked] == [
        (11, 25.0 if ticked else 20.0),
        (21, 55.0 if ticked else 50.0),
    ]
    # Consecutive candidate segments make one turn; coverage counts the candidate's speech.
    assert conflict.quotes[0].start == 30.0 and conflict.quotes[0].end == 49.0
    assert conflict.candidate_seconds == pytest.approx(5 * 9.0)
    assert 0 < conflict.relevant_seconds <= conflict.candidate_seconds
    assert conflict.relevant_turns == len([q for q in conflict.quotes])
    assert [q.score for q in data.quotes] == sorted((q.score for q in data.quotes), reverse=True)


def test_a_kit_without_questions_ranks_on_its_descriptions(embedder: Embedder) -> None:
    """With no questions to place the answers, scores are lower (the panel may then show
    nothing over the threshold), but the order still follows the descriptions."""
    bare = [KitCompetency(c.id, c.name, c.description, c.guide, []) for c in KIT]
    every = replace(METHOD, relevant=float("-inf"))
    found = rank(embedder, bare, utterances(), CANDIDATE, method=every)
    assert found.asked == []
    conflict, data = found.competencies
    assert "ship without tests" in conflict.quotes[0].quote
    assert "churn figures" in data.quotes[0].quote


def test_no_evidence_is_invented_where_it_cannot_be_read(embedder: Embedder) -> None:
    foreign = rank(embedder, KIT, utterances(), CANDIDATE, language="de")
    assert "English only" in foreign.note
    assert all(not c.quotes and c.relevant_turns == 0 for c in foreign.competencies)
    absent = rank(embedder, KIT, utterances(), "Someone Else")
    assert "No turns of 'Someone Else'" in absent.note
    assert all(not c.quotes for c in absent.competencies)
    assert rank(embedder, [], utterances(), CANDIDATE).competencies == []


def test_an_oversized_transcript_is_refused_before_any_work(embedder: Embedder) -> None:
    many = [Utterance(i, i + 0.5, CANDIDATE, "yes") for i in range(MAX_SEGMENTS * 2)]
    with pytest.raises(EvidenceRefused, match=f"at most {MAX_SEGMENTS}"):
        rank(embedder, KIT, many, CANDIDATE)


def _documents(tmp_path: Path) -> tuple[Path, Path]:
    kit = {
        "name": "Analyst",
        "competencies": [
            {"id": c.id, "name": c.name, "description": c.description, "guide": list(c.guide),
             "questions": [{"id": q.id, "text": q.text, "guidance": ""} for q in c.questions]}
            for c in KIT
        ],
    }  # fmt: skip
    transcript = {
        "language": "en",
        "duration": 90.0,
        "segments": [
            {"start": u.start, "end": u.end, "speaker": u.speaker, "text": u.text, "words": []}
            for u in utterances()
        ],
    }
    (tmp_path / "kit.json").write_text(json.dumps(kit))
    (tmp_path / "transcript.json").write_text(json.dumps(transcript))
    return tmp_path / "kit.json", tmp_path / "transcript.json"


def _cli(data_dir: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appliance", "evidence", "--data-dir", str(data_dir),
         *map(str, args)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


@pytest.fixture
def box_with_model(tmp_path: Path, embedder: Embedder) -> Path:
    data_dir = tmp_path / "box"
    (data_dir / "models").mkdir(parents=True)
    (data_dir / "models" / "embedding").symlink_to(embedder.model.directory)
    return data_dir


def test_the_command_prints_ranked_evidence_as_json_and_text(
    box_with_model: Path, tmp_path: Path, embedder: Embedder
) -> None:
    kit, transcript = _documents(tmp_path)
    done = _cli(box_with_model, kit, transcript, "--candidate", CANDIDATE, "--format", "json")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["model"]["sha256"] == embedder.model.sha256
    conflict, data = printed["competencies"]
    assert (conflict["id"], conflict["name"]) == (1, "Handling conflict")
    assert set(conflict["quotes"][0]) == {"start", "end", "speaker", "quote", "score"}
    assert "churn figures" in data["quotes"][0]["quote"]
    assert printed["asked_inferred"] is True
    text = _cli(box_with_model, kit, transcript, "--candidate", CANDIDATE)
    assert text.returncode == 0, text.stderr
    assert "Data analysis (id 2):" in text.stdout and "churn figures" in text.stdout


def test_damaged_input_files_are_refused_with_one_message_at_every_offset(
    tmp_path: Path,
) -> None:
    _, transcript = _documents(tmp_path)
    whole = transcript.read_bytes()
    for cut in range(1, len(whole) - 1, max(1, len(whole) // 40)):
        transcript.write_bytes(whole[:cut])
        with pytest.raises(Invalid, match=r"^the transcript .* is not JSON"):
            transcript_utterances(read_json(transcript, "transcript"))
    wrong = {
        "segments: not a list": {"language": "en", "segments": 5},
        "a time span backwards": {"language": "en", "segments": [
            {"start": 5, "end": 1, "speaker": CANDIDATE, "text": "x"}]},
        "an endless segment": {"language": "en", "segments": [
            {"start": 0, "end": float("inf"), "speaker": CANDIDATE, "text": "x"}]},
        "a segment without text": {"language": "en", "segments": [{"start": 0, "end": 1}]},
        "no language": {"segments": []},
        "not an object": [1, 2],
    }  # fmt: skip
    for document in wrong.values():
        with pytest.raises(Invalid):
            transcript_utterances(document)
    for document, message in (
        ({"competencies": [{"name": 3}]}, "competency 1: 'name' is missing or not text"),
        ({"competencies": [{"name": "A", "guide": [1]}]}, "'guide' is not a list of texts"),
        ({"competencies": [{"name": "A", "questions": [{}]}]}, "question 1: 'text' is missing"),
        ({"competencies": "all"}, "'competencies' is missing or not a list"),
    ):
        with pytest.raises(Invalid, match=re.escape(message)):
            kit_competencies(document)


def test_the_command_answers_a_damaged_file_with_one_line(
    box_with_model: Path, tmp_path: Path
) -> None:
    kit, transcript = _documents(tmp_path)
    transcript.write_bytes(transcript.read_bytes()[:50])
    done = _cli(box_with_model, kit, transcript, "--candidate", CANDIDATE)
    assert done.returncode == 1
    assert done.stderr.startswith("appliance: error: the transcript"), done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
    kit.write_text(json.dumps({"competencies": [{"name": 3}]}))
    done = _cli(box_with_model, kit, tmp_path / "missing.json", "--candidate", CANDIDATE)
    assert done.returncode == 1
    assert "competency 1: 'name' is missing or not text" in done.stderr
