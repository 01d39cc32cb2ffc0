"""Reads of the scoring app."""

from __future__ import annotations

from django.db.models import QuerySet

from pilotage.web.scoring.models import ContactScore, ConversionModelRecord


def latest_scores() -> QuerySet[ContactScore]:
    """Every contact's current score, highest priority first (one indexed query)."""
    return ContactScore.objects.filter(is_latest=True).order_by("-priority", "contact_id")


def contact_latest_score(*, contact_id: str) -> ContactScore | None:
    return ContactScore.objects.filter(contact_id=contact_id, is_latest=True).first()


def contact_score_history(*, contact_id: str) -> QuerySet[ContactScore]:
    return ContactScore.objects.filter(contact_id=contact_id).order_by("-computed_at")


def conversion_model_reports() -> QuerySet[ConversionModelRecord]:
    return ConversionModelRecord.objects.defer("payload").order_by("-trained_at")
