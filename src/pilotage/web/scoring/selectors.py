"""Reads of the scoring app."""

from __future__ import annotations

import math
from typing import Any

from django.db.models import QuerySet

from pilotage.web.scoring.models import ContactScore, ConversionModelRecord


def latest_scores() -> QuerySet[ContactScore]:
    """Every contact's current score, highest priority first (one indexed query)."""
    return ContactScore.objects.filter(is_latest=True).order_by("-priority", "contact_id")


def contact_latest_score(*, contact_id: str) -> ContactScore | None:
    return ContactScore.objects.filter(contact_id=contact_id, is_latest=True).first()


def contact_score(*, contact_id: str) -> dict[str, Any] | None:
    """The contact's latest stored score as interfaces.md's `score` row (`contact_id`,
    `score`, `grade`, `groups`, `rules`, `rfm`, `conversion_probability`, `predicted_clv`,
    `churn_risk`, `priority`, `reason`), plus when and with which model it was computed;
    None when the contact has never been scored. Scope (who may see the contact) is the
    caller's business."""
    stored = contact_latest_score(contact_id=contact_id)
    return None if stored is None else score_document(stored)


def _rounded(value: float | None, digits: int = 2) -> float | int | None:
    """As `pilotage.scoring.scores.row_document` rounds the batch's rows."""
    if value is None or math.isnan(value):
        return None
    number = round(float(value), digits)
    return int(number) if number.is_integer() else number


def score_document(stored: ContactScore) -> dict[str, Any]:
    """One stored score as a `score` row. The groups and fired rules were stored already in
    the row document's form (`services._record_fields`), so the document does not depend
    on the rule model still being the active one."""
    rfm = None
    if stored.rfm_r is not None:
        rfm = {
            "r": stored.rfm_r,
            "f": stored.rfm_f,
            "m": stored.rfm_m,
            "segment": stored.rfm_segment,
        }
    return {
        "contact_id": str(stored.contact_id),
        "score": _rounded(stored.score),
        "grade": stored.grade,
        "groups": dict(stored.groups or {}),
        "rules": list(stored.rules or []),
        "rfm": rfm,
        "conversion_probability": _rounded(stored.conversion_probability, 4),
        "predicted_clv": _rounded(stored.predicted_clv),
        "churn_risk": _rounded(stored.churn_risk, 4),
        "priority": _rounded(stored.priority),
        "reason": stored.reason,
        "as_of": stored.as_of,
        "computed_at": stored.computed_at,
        "model": stored.model_name,
        "model_version": stored.model_version,
    }


def contact_score_history(*, contact_id: str) -> QuerySet[ContactScore]:
    return ContactScore.objects.filter(contact_id=contact_id).order_by("-computed_at")


def conversion_model_reports() -> QuerySet[ConversionModelRecord]:
    return ConversionModelRecord.objects.defer("payload").order_by("-trained_at")
