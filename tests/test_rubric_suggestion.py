"""The rubric suggestion: learnt from this box's submitted scores, measured on held-out
interviews, shown only when its agreement with human scorers passes the threshold."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.db.database import utcnow
from appliance.db.models import (
    Candidate,
    Competency,
    CompetencyScore,
    EvidenceFeature,
    Interview,
    Kit,
    Recording,
    RubricModel,
    Scorecard,
    User,
)
from appliance.evidence import suggestion
from appliance.evidence.suggestion import quadratic_weighted_kappa
from appliance.runtime import Runtime
from tests.conftest import make_user

levels = st.lists(st.integers(1, 5), min_size=1, max_size=40)


def test_kappa_is_one_for_agreement_zero_for_chance_and_negative_for_opposition() -> None:
    assert quadratic_weighted_kappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert quadratic_weighted_kappa([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    # A worked example: one level off on one of four, otherwise equal.
    # Weights (i - j)^2 / 16: observed, one pair one level apart, 1/16. Expected, from the
    # marginals (1, 1, 1, 1, 0) and (0, 2, 1, 1, 0) over 4: sum of r_i c_j (i - j)^2 is 32,
    # times 1/4 * 1/16 = 1/2. Kappa = 1 - (1/16) / (1/2).
    assert quadratic_weighted_kappa([1, 2, 3, 4], [2, 2, 3, 4]) == pytest.approx(0.875)
    assert quadratic_weighted_kappa([3, 3, 3], [3, 3, 3]) == 0.0  # nobody varies: undefined


@given(levels, st.data())
def test_kappa_is_symmetric_and_bounded(a: list[int], data: st.DataObject) -> None:
    b = data.draw(st.lists(st.integers(1, 5), min_size=len(a), max_size=len(a)))
    k = quadratic_weighted_kappa(a, b)
    assert -1.0 - 1e-9 <= k <= 1.0 + 1e-9
    assert k == pytest.approx(quadratic_weighted_kappa(b, a))


def test_held_out_agreement_is_high_where_the_figures_predict_and_low_where_they_do_not() -> None:
    rng = np.random.default_rng(7)
    features = rng.uniform([0.2, 0, 0], [0.8, 10, 0.6], size=(40, 3))
    truth = 1 + 4 * (features[:, 0] - 0.2) / 0.6  # the best turn's score decides
    kappa, mae = suggestion.held_out(features, np.clip(truth + rng.normal(0, 0.2, 40), 1, 5))
    assert kappa > 0.8 and mae < 0.4
    noise = rng.integers(1, 6, 40).astype(float)
    kappa, _ = suggestion.held_out(features, noise)
    assert kappa < suggestion.KAPPA_THRESHOLD


def _scored_interviews(
    runtime: Runtime, competency: Competency, count: int, predictive: bool
) -> list[Recording]:
    """`count` interviews with evidence figures and one submitted score each: the score follows
    the best turn's score when `predictive`, else it is random."""
    scorer = User.get_or_none(User.email == "una@example.com") or make_user(
        runtime, "interviewer", "una@example.com"
    )
    rng = random.Random(3)
    recordings = []
    for n in range(count):
        candidate = Candidate.create(name=f"C{n}", email=f"c{n}@example.com")
        interview = Interview.create(candidate=candidate, starts_at=utcnow(), ends_at=utcnow())
        recording = Recording.create(interview=interview, key_id="00" * 16)
        best = rng.uniform(0.2, 0.8)
        EvidenceFeature.create(
            recording=recording,
            competency=competency,
            best_score=best,
            relevant_turns=rng.randint(0, 8),
            relevant_share=rng.random() / 2,
        )
        level = round(1 + 4 * (best - 0.2) / 0.6) if predictive else rng.randint(1, 5)
        card = Scorecard.create(interview=interview, author=scorer, submitted_at=utcnow())
        CompetencyScore.create(scorecard=card, competency=competency, score=level)
        recordings.append(recording)
    return recordings


@pytest.fixture
def competency(runtime: Runtime) -> Competency:
    kit = Kit.create(name="Kit")
    return Competency.create(kit=kit, name="Planning")


def test_too_few_interviews_say_so_and_suggest_nothing(
    runtime: Runtime, competency: Competency
) -> None:
    recordings = _scored_interviews(runtime, competency, suggestion.MIN_INTERVIEWS - 1, True)
    assert suggestion.retrain_all() == 1
    model = RubricModel.get(RubricModel.competency == competency)
    assert model.interviews == suggestion.MIN_INTERVIEWS - 1 and model.kappa is None
    shown = suggestion.suggestions(recordings[0])[competency.id]
    assert shown.level is None
    assert shown.reason.startswith("not enough calibrated data: 19 scored interviews")


def test_a_proven_model_suggests_and_reports_its_agreement(
    runtime: Runtime, competency: Competency
) -> None:
    recordings = _scored_interviews(runtime, competency, 30, predictive=True)
    model = suggestion.train(competency)
    assert model.interviews == 30 and model.kappa is not None and model.mae is not None
    assert model.kappa >= suggestion.KAPPA_THRESHOLD
    for recording in recordings[:5]:
        feature = EvidenceFeature.get(EvidenceFeature.recording == recording)
        shown = suggestion.suggestions(recording)[competency.id]
        expected = round(1 + 4 * (feature.best_score - 0.2) / 0.6)
        assert shown.level is not None and abs(shown.level - expected) <= 1
        assert (shown.kappa, shown.interviews) == (model.kappa, 30)


def test_scores_unrelated_to_the_evidence_never_produce_a_suggestion(
    runtime: Runtime, competency: Competency
) -> None:
    recordings = _scored_interviews(runtime, competency, 30, predictive=False)
    model = suggestion.train(competency)
    assert model.kappa is not None and model.kappa < suggestion.KAPPA_THRESHOLD
    shown = suggestion.suggestions(recordings[0])[competency.id]
    assert shown.level is None and "under 0.6" in shown.reason


def test_drafts_and_not_assessed_scores_are_not_learnt_from(
    runtime: Runtime, competency: Competency
) -> None:
    recordings = _scored_interviews(runtime, competency, 3, predictive=True)
    Scorecard.update(submitted_at=None).where(
        Scorecard.interview == recordings[0].interview_id
    ).execute()
    CompetencyScore.update(score=None).where(
        CompetencyScore.scorecard.in_(
            Scorecard.select(Scorecard.id).where(Scorecard.interview == recordings[1].interview_id)
        )
    ).execute()
    features, targets = suggestion.training_data(competency)
    assert len(targets) == 1 and features.shape == (1, 3)
