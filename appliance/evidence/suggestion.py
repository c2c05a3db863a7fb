"""A suggested rubric level per competency, only where it is proven on this box's own scores.

The suggestion is learnt from the organisation's submitted human scores, never from a general
notion of a good answer: per competency, a ridge regression from the evidence's figures (the
best turn's score, how many turns count as evidence, their share of the candidate's speech) to
the panel's mean score for that competency. Its agreement with human scorers is measured on
held-out interviews (each interview predicted by a model trained without it): quadratic-weighted
kappa between the rounded prediction and the panel's rounded mean score, and the mean absolute
error. A suggestion is shown only when at least MIN_INTERVIEWS interviews were held out and the
kappa reaches KAPPA_THRESHOLD; below that the panel says there is not enough calibrated data.

Why these numbers: kappa 0.6 is the conventional floor of "substantial" agreement, about what
two trained human raters of structured interviews reach; with fewer than 20 held-out interviews
a kappa's standard error is over 0.15, so a passing figure could be luck.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from appliance.db.database import utcnow
from appliance.db.models import (
    Competency,
    CompetencyScore,
    EvidenceFeature,
    Recording,
    RubricModel,
    Scorecard,
)
from appliance.evidence.ranking import Evidence

FEATURES = ("best_score", "relevant_turns", "relevant_share")
LEVELS = (1, 2, 3, 4, 5)
MIN_INTERVIEWS = 20
KAPPA_THRESHOLD = 0.6
RIDGE = 1.0  # on standardised features: keeps a few dozen interviews from being overfitted


def quadratic_weighted_kappa(a: list[int], b: list[int]) -> float:
    """Cohen's kappa with quadratic weights between two raters' levels (1..5): 1 is perfect
    agreement, 0 what chance gives. When neither rater varies the figure is undefined; 0."""
    k = len(LEVELS)
    observed = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        observed[x - 1, y - 1] += 1
    total = observed.sum()
    if total == 0:
        return 0.0
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / total
    i, j = np.indices((k, k))
    weights = (i - j) ** 2 / (k - 1) ** 2
    disagreement = float((weights * expected).sum())
    if disagreement == 0:
        return 0.0
    return 1.0 - float((weights * observed).sum()) / disagreement


@dataclass(frozen=True)
class Weights:
    mean: list[float]
    scale: list[float]
    coefficients: list[float]
    intercept: float

    def predict(self, features: np.ndarray) -> np.ndarray:
        standard = (features - np.array(self.mean)) / np.array(self.scale)
        return np.asarray(standard @ np.array(self.coefficients) + self.intercept)


def fit(features: np.ndarray, targets: np.ndarray) -> Weights:
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    standard = (features - mean) / scale
    intercept = float(targets.mean())
    gram = standard.T @ standard + RIDGE * np.eye(standard.shape[1])
    coefficients = np.linalg.solve(gram, standard.T @ (targets - intercept))
    return Weights(mean.tolist(), scale.tolist(), coefficients.tolist(), intercept)


def level(value: float) -> int:
    return int(min(max(round(value), LEVELS[0]), LEVELS[-1]))


def held_out(features: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """(kappa, mean absolute error) with every interview predicted by a model trained on the
    others (leave-one-out)."""
    predicted = []
    for i in range(len(targets)):
        others = np.arange(len(targets)) != i
        predicted.append(float(fit(features[others], targets[others]).predict(features[i])))
    kappa = quadratic_weighted_kappa([level(p) for p in predicted], [level(t) for t in targets])
    mae = float(np.mean(np.abs(np.array(predicted) - targets)))
    return kappa, mae


def _row(feature: EvidenceFeature) -> list[float]:
    return [feature.best_score, float(feature.relevant_turns), feature.relevant_share]


def training_data(competency: Competency) -> tuple[np.ndarray, np.ndarray]:
    """One row per interview with evidence (its latest recording's figures) and submitted
    scores for the competency (their mean; "not assessed" left out)."""
    scores: dict[int, list[int]] = defaultdict(list)
    for score in (
        CompetencyScore.select(CompetencyScore.score, Scorecard.interview)
        .join(Scorecard)
        .where(
            (CompetencyScore.competency == competency)
            & Scorecard.submitted_at.is_null(False)
            & CompetencyScore.score.is_null(False)
        )
    ):
        scores[score.scorecard.interview_id].append(int(score.score or 0))
    latest: dict[int, EvidenceFeature] = {}
    for feature in (
        EvidenceFeature.select(EvidenceFeature, Recording)
        .join(Recording)
        .where(EvidenceFeature.competency == competency)
        .order_by(Recording.id)
    ):
        latest[feature.recording.interview_id] = feature
    rows = [(latest[i], scores[i]) for i in sorted(latest) if scores.get(i)]
    features = np.array([_row(f) for f, _ in rows], dtype=np.float64).reshape(-1, len(FEATURES))
    targets = np.array([float(np.mean(s)) for _, s in rows], dtype=np.float64)
    return features, targets


def train(competency: Competency) -> RubricModel:
    """Retrains the competency's model on every scored interview and measures it held out."""
    features, targets = training_data(competency)
    kappa = mae = None
    if len(targets) >= MIN_INTERVIEWS:
        kappa, mae = held_out(features, targets)
    zeros, ones = len(FEATURES) * [0.0], len(FEATURES) * [1.0]
    weights = fit(features, targets) if len(targets) >= 2 else Weights(zeros, ones, zeros, 3.0)
    model: RubricModel | None = RubricModel.get_or_none(RubricModel.competency == competency)
    if model is None:
        model = RubricModel(competency=competency)
    model.interviews, model.kappa, model.mae = len(targets), kappa, mae
    model.weights = json.dumps(weights.__dict__)
    model.trained_at = utcnow()
    model.save()
    return model


def retrain_all() -> int:
    """Retrains every competency that has evidence; returns how many."""
    ids = {f.competency_id for f in EvidenceFeature.select(EvidenceFeature.competency).distinct()}
    for competency in Competency.select().where(Competency.id.in_(list(ids))):
        train(competency)
    return len(ids)


def store_features(recording: Recording, evidence: Evidence) -> None:
    """The evidence's figures per competency, replacing the recording's earlier ones."""
    EvidenceFeature.delete().where(EvidenceFeature.recording == recording).execute()
    known = {c.id for c in Competency.select(Competency.id)}
    for c in evidence.competencies:
        if c.id in known and c.candidate_seconds > 0:
            EvidenceFeature.create(
                recording=recording,
                competency=c.id,
                best_score=c.best_score,
                relevant_turns=c.relevant_turns,
                relevant_share=c.relevant_seconds / c.candidate_seconds,
            )


@dataclass(frozen=True)
class Suggestion:
    level: int | None  # None: not shown (see `reason`)
    interviews: int  # held-out interviews the agreement was measured on
    kappa: float | None
    mae: float | None
    reason: str = ""


def suggestions(recording: Recording) -> dict[int, Suggestion]:
    """Per competency id of the recording's evidence: the suggestion, or why there is none."""
    models = {
        m.competency_id: m
        for m in RubricModel.select().where(
            RubricModel.competency.in_(
                EvidenceFeature.select(EvidenceFeature.competency).where(
                    EvidenceFeature.recording == recording
                )
            )
        )
    }
    result = {}
    for feature in EvidenceFeature.select().where(EvidenceFeature.recording == recording):
        model = models.get(feature.competency_id)
        result[feature.competency_id] = _suggest(model, feature)
    return result


def _suggest(model: RubricModel | None, feature: EvidenceFeature) -> Suggestion:
    if model is None or model.kappa is None:
        n = model.interviews if model else 0
        return Suggestion(
            None, n, None, None,
            f"not enough calibrated data: {n} scored interviews with evidence, "
            f"{MIN_INTERVIEWS} needed to measure agreement",
        )  # fmt: skip
    if model.kappa < KAPPA_THRESHOLD:
        return Suggestion(
            None, model.interviews, model.kappa, model.mae,
            f"not enough calibrated data: agreement with your scorers is kappa "
            f"{model.kappa:.2f} on {model.interviews} held-out interviews, under "
            f"{KAPPA_THRESHOLD}",
        )  # fmt: skip
    weights = Weights(**_weights(model))
    predicted = float(weights.predict(np.array(_row(feature))))
    return Suggestion(level(predicted), model.interviews, model.kappa, model.mae)


def _weights(model: RubricModel) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(model.weights)
    return data
