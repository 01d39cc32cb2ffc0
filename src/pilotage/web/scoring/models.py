"""Stored scores (with their time), scoring runs, and the models in use.

`ContactScore` is the history: one row per computation of a contact's scores. The latest
row of each contact has `is_latest` set (one per contact, enforced by a partial unique
constraint), so "every contact's current score, by priority" is one indexed query. The
table is named `contact_scores` so that the analytical core can read the history from the
CRM database (`pilotage.scoring.team`, expected wins at assignment).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from pilotage.web.crm.models import Contact


class ContactScore(models.Model):
    id = models.BigAutoField(primary_key=True)
    contact = models.ForeignKey(
        Contact, db_column="contact_id", on_delete=models.CASCADE, related_name="scores"
    )
    computed_at = models.DateTimeField(db_index=True)  # when it was computed
    as_of = models.DateTimeField()  # the data it saw: everything up to this instant
    model_name = models.CharField(max_length=200)
    model_version = models.CharField(max_length=100)
    conversion_model_version = models.CharField(max_length=100, null=True, blank=True)
    score = models.FloatField()
    grade = models.CharField(max_length=4, null=True, blank=True)
    groups = models.JSONField(default=dict)
    rules = models.JSONField(default=list)
    rfm_r = models.SmallIntegerField(null=True, blank=True)
    rfm_f = models.SmallIntegerField(null=True, blank=True)
    rfm_m = models.SmallIntegerField(null=True, blank=True)
    rfm_segment = models.CharField(max_length=40, null=True, blank=True)
    conversion_probability = models.FloatField(null=True, blank=True)
    factors = models.JSONField(null=True, blank=True)
    # Customers, when the CLV models could be fitted (scoring.md section 4): discounted
    # margin expected over the next clv_horizon_months, and 1 - P(alive).
    predicted_clv = models.FloatField(null=True, blank=True)
    churn_risk = models.FloatField(null=True, blank=True)
    priority = models.FloatField()
    reason = models.TextField()
    reason_fr = models.TextField()
    fingerprint = models.CharField(max_length=32, blank=True, default="")
    is_latest = models.BooleanField(default=True)

    class Meta:
        db_table = "contact_scores"
        indexes = [
            models.Index(fields=["contact", "-computed_at"], name="contact_score_history"),
            models.Index(fields=["is_latest", "-priority"], name="contact_score_priority"),
            # The contacts list sorted by score or priority, keyset-paged on (value, id).
            models.Index(
                fields=["-score", "-contact"],
                condition=Q(is_latest=True),
                name="latest_score_order",
            ),
            models.Index(
                fields=["-priority", "-contact"],
                condition=Q(is_latest=True),
                name="latest_priority_order",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"], condition=Q(is_latest=True), name="one_latest_score"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.score:.1f} {self.computed_at:%Y-%m-%d %H:%M}"


class ScoringRun(models.Model):
    """A batch: when, with what, and the RFM edges one-contact rescoring reuses."""

    id = models.BigAutoField(primary_key=True)
    computed_at = models.DateTimeField(db_index=True)
    as_of = models.DateTimeField()
    model_name = models.CharField(max_length=200)
    model_version = models.CharField(max_length=100)
    conversion_model_version = models.CharField(max_length=100, null=True, blank=True)
    rfm_edges = models.JSONField(null=True, blank=True)
    priority_basis = models.CharField(max_length=10, default="rfm")
    # The CLV models fitted by the batch and its CLV percentiles (`ScoreResult.clv_model`),
    # which rescoring one customer applies to its own orders until the next batch.
    clv_model = models.JSONField(null=True, blank=True)
    contacts = models.IntegerField(default=0)
    rescored = models.IntegerField(default=0)
    seconds = models.FloatField(default=0.0)

    class Meta:
        db_table = "scoring_runs"

    def __str__(self) -> str:
        return f"run {self.computed_at:%Y-%m-%d %H:%M} ({self.rescored}/{self.contacts})"


class ScoringModelRecord(models.Model):
    """A rule model edited in the CRM (TOML text, checked when saved)."""

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=200)
    text = models.TextField()
    version = models.IntegerField(default=1)
    is_active = models.BooleanField(default=False)
    saved_at = models.DateTimeField()

    class Meta:
        db_table = "scoring_models"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_scoring_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ConversionModelRecord(models.Model):
    """A trained conversion model (joblib bytes) with its evaluation report."""

    id = models.BigAutoField(primary_key=True)
    version = models.CharField(max_length=100, unique=True)
    trained_at = models.DateTimeField()
    cutoff = models.DateTimeField()
    report = models.JSONField()
    payload = models.BinaryField()
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "conversion_models"

    def __str__(self) -> str:
        return f"conversion model {self.version}"
