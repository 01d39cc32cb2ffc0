"""Scoring every prospect and customer (scoring.md sections 1, 2, 3 and 5).

    result = pilotage.scoring.score(source)              # rule score, grade, RFM, priority
    result.to_json()                                     # interfaces.md's `score` shape
    trained = pilotage.scoring.train(source)             # conversion model + its report
    result = pilotage.scoring.score(source, trained=trained)

The analytical core: it never imports Django (the CRM stores scores through
`pilotage.web.scoring`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from pilotage.engine.backends import Source
from pilotage.scoring.expressions import ExpressionError, parse_expression
from pilotage.scoring.model import ModelError, ScoringModel, default_model, load_model, parse_model
from pilotage.scoring.predictive import (
    LeakageError,
    TrainedModel,
    TrainingRefused,
    latest_model,
    store_model,
)
from pilotage.scoring.rfm import QuintileEdges, quintile_scores, segment_of
from pilotage.scoring.scores import ScoreResult, ScoringError, score, score_contact
from pilotage.scoring.team import expected_wins


def train(
    source: Source,
    cutoff: datetime | None = None,
    *,
    model: ScoringModel | None = None,
) -> TrainedModel:
    """Train the conversion model (features as of `cutoff`, default as_of - 2W) and
    evaluate it on the later holdout, next to the rule score of `model` (default: the
    shipped one) on the same prospects."""
    from pilotage.scoring.predictive import train as train_conversion

    rule_model = model or default_model()

    def rule_scores(as_of: datetime, contact_ids: Sequence[str]) -> pd.Series:
        frame = score(source, rule_model, as_of, use_clv=False).frame
        series: pd.Series = frame.set_index("contact_id")["score"]
        return series.reindex(list(contact_ids))

    return train_conversion(source, cutoff, rule_scores=rule_scores)


__all__ = [
    "ExpressionError",
    "LeakageError",
    "ModelError",
    "QuintileEdges",
    "ScoreResult",
    "ScoringError",
    "ScoringModel",
    "TrainedModel",
    "TrainingRefused",
    "default_model",
    "expected_wins",
    "latest_model",
    "load_model",
    "parse_expression",
    "parse_model",
    "quintile_scores",
    "score",
    "score_contact",
    "segment_of",
    "store_model",
    "train",
]
