"""Reads of the scoring model editor: the active model, validation with positions, and
the distribution of scores a model would give, before it is saved."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from pilotage.scoring.expressions import FieldType
from pilotage.scoring.model import ModelError, ScoringModel, parse_model
from pilotage.web.dashboard.analytics import as_of_utc, engine_source
from pilotage.web.dashboard.cache import cached
from pilotage.web.scoring.services import active_scoring_model

ORIGIN = "model"


def active_model_text() -> str:
    return active_model().text


def active_model() -> ScoringModel:
    """The scoring app's active model: the one the stored scores come from."""
    return active_scoring_model()


def model_field_types(model: ScoringModel) -> dict[str, FieldType]:
    """The fields a model's conditions may name, with their types."""
    from pilotage.scoring.features import BASE_FIELDS, field_types

    try:
        return field_types(engine_source(), model.field_names)
    except Exception:  # noqa: BLE001 - the scoring core cannot list custom attributes on
        # SQLite when no contact has any (ibis cannot type an empty result): the
        # contract's fields and the derived ones are then all there is.
        return dict(BASE_FIELDS)


@dataclass(frozen=True)
class Check:
    model: ScoringModel | None
    problems: list[str] = field(default_factory=list)


def model_check(text: str) -> Check:
    """Parse the text and check its conditions against the CRM's fields."""
    try:
        model = parse_model(text, origin=ORIGIN)
    except ModelError as error:
        return Check(None, list(error.problems))
    try:
        model.check_fields(model_field_types(model))
    except ModelError as error:
        return Check(None, list(error.problems))
    return Check(model)


@dataclass(frozen=True)
class Distribution:
    contacts: int
    bins: list[str]
    counts: list[int]
    grades: list[tuple[str, int]]
    mean: float | None
    median: float | None


def score_distribution(model: ScoringModel, text: str) -> Distribution:
    """The scores every contact would get with `model` (computed on the engine)."""

    def compute() -> Distribution:
        from pilotage.scoring.rules import rule_frame

        source = engine_source()
        frame = rule_frame(source, model, as_of_utc(), model_field_types(model))
        scores = frame["score"].to_numpy(np.float64)
        edges = np.linspace(0, model.max_score, 11)
        counts, _ = np.histogram(scores, bins=edges)
        bins = [f"{edges[i]:.0f}–{edges[i + 1]:.0f}" for i in range(len(edges) - 1)]
        grades = frame["grade"].fillna("—").value_counts().sort_index()
        return Distribution(
            len(frame),
            bins,
            [int(c) for c in counts],
            [(str(k), int(v)) for k, v in grades.items()],
            float(scores.mean()) if len(scores) else None,
            float(np.median(scores)) if len(scores) else None,
        )

    digest = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    return cached("score-distribution", (digest,), compute)
