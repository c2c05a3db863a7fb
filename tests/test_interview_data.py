"""Quantitative interview data: talk time and shares, interruptions, the time to the first
question and the candidate's answer time per question, from turns and "asked" ticks alone."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.evidence.interview_data import figures
from appliance.recordings.review import AskedQuestion, Turn


def turn(speaker: str, start: float, end: float) -> Turn:
    return Turn(speaker, start, end, [])


def test_a_short_interview_in_figures() -> None:
    turns = [
        turn("Ivy", 0.0, 30.0),  # small talk before the first question
        turn("Ivy", 40.0, 50.0),  # asks question 1 at 40 s
        turn("Sam", 52.0, 112.0),  # answers for a minute
        turn("Ivy", 110.0, 115.0),  # begins 2 s before Sam is done: an interruption
        turn("Sam", 114.8, 120.0),  # overlaps Ivy by 0.2 s (< OVERLAP_S): timing noise
        turn("Ivy", 130.0, 135.0),  # asks question 2 at 130 s
        turn("Sam", 136.0, 166.0),
    ]
    asked = [AskedQuestion(130.0, "Design a schema"), AskedQuestion(40.0, "Tell me about X")]
    kit = ["Tell me about X", "Design a schema", "Why us?"]
    data = figures(turns, asked, "Sam", 170.0, kit)

    by_name = {s.speaker: s for s in data.speakers}
    assert [s.speaker for s in data.speakers] == ["Sam", "Ivy"]  # most talk first
    assert (by_name["Sam"].seconds, by_name["Sam"].turns) == (95.2, 3)
    assert (by_name["Ivy"].seconds, by_name["Ivy"].turns) == (50.0, 4)
    assert by_name["Sam"].share == round(95.2 / 145.2, 3) and by_name["Sam"].is_candidate
    assert (by_name["Ivy"].interruptions, by_name["Sam"].interruptions) == (1, 0)
    assert data.first_question_at == 40.0
    # Question 1 runs from its tick to question 2's: Sam's 60 s and 5.2 s; question 2 to the end.
    assert [(q.text, q.asked_at, q.answer_seconds) for q in data.questions] == [
        ("Tell me about X", 40.0, 65.2),
        ("Design a schema", 130.0, 30.0),
    ]
    assert data.not_asked == ["Why us?"]


def test_no_questions_ticked_and_no_candidate_speech() -> None:
    data = figures([turn("Ivy", 0.0, 10.0)], [], "Sam", 10.0, ["Why us?"])
    assert data.first_question_at is None and data.questions == []
    assert [(s.speaker, s.share, s.is_candidate) for s in data.speakers] == [("Ivy", 1.0, False)]
    assert data.not_asked == ["Why us?"]
    assert figures([], [], "Sam", 0.0).speakers == []


turns_strategy = st.lists(
    st.builds(
        lambda who, start, length: turn(who, start, start + length),
        st.sampled_from(["Sam", "Ivy", "Ben"]),
        st.floats(0, 3600, allow_nan=False),
        st.floats(0, 120, allow_nan=False),
    ),
    max_size=60,
)
ticks_strategy = st.lists(st.floats(0, 3600, allow_nan=False), max_size=8, unique=True)


@settings(max_examples=200, deadline=None)
@given(turns_strategy, ticks_strategy)
def test_the_figures_add_up(turns: list[Turn], ticks: list[float]) -> None:
    """Whatever the turns: shares sum to one, every turn is counted once, an interruption is
    a turn, and the answer times never exceed what the candidate said after the first tick."""
    asked = [AskedQuestion(at, f"Q{n}") for n, at in enumerate(ticks)]
    data = figures(turns, asked, "Sam", 3720.0)
    if data.speakers and sum(s.seconds for s in data.speakers) > 0:
        # Each share is rounded to 0.001: at most 0.0005 off, per speaker.
        assert abs(sum(s.share for s in data.speakers) - 1.0) <= 0.0005 * len(data.speakers) + 1e-9
    assert sum(s.turns for s in data.speakers) == len(turns)
    assert all(0 <= s.interruptions <= s.turns for s in data.speakers)
    if ticks:
        after = sum(max(0.0, t.end - max(t.start, min(ticks))) for t in turns if t.speaker == "Sam")
        # Each answer time is rounded to 0.1 s: at most 0.05 s over, per question.
        assert sum(q.answer_seconds for q in data.questions) <= after + 0.05 * len(ticks) + 1e-6
