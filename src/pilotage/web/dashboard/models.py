"""What the web app keeps besides the CRM tables: pinned KPIs, targets, company settings,
and the data version that keys the KPI cache."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class PinnedKpi(models.Model):
    """A KPI a user chose to see on its dashboard, in the user's order."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pinned_kpis"
    )
    kpi = models.CharField(max_length=64)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "dashboard_pinned_kpis"
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "kpi"], name="pinned_kpi_once")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.kpi}"


class KpiTarget(models.Model):
    """The company's target for a KPI at a grain (a monthly revenue target is not a
    quarterly one)."""

    kpi = models.CharField(max_length=64)
    grain = models.CharField(max_length=16)
    value = models.FloatField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        db_table = "dashboard_kpi_targets"
        constraints = [
            models.UniqueConstraint(fields=["kpi", "grain"], name="kpi_target_per_grain")
        ]

    def __str__(self) -> str:
        return f"{self.kpi}/{self.grain}={self.value}"


class CompanySetting(models.Model):
    """One company setting (data-contract.md "Settings"): its name and its value as JSON
    text. The analytical core reads this table without Django
    (`pilotage.engine.backends.company_settings`), hence the plain shape."""

    name = models.CharField(max_length=64, primary_key=True)
    value = models.TextField()

    class Meta:
        db_table = "company_settings"

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


def new_nonce() -> str:
    return uuid.uuid4().hex


class DataVersion(models.Model):
    """A counter bumped by every write that changes what KPIs show (imports, edits,
    settings): cached results are keyed by it, so that no one ever sees stale numbers.

    The nonce, drawn anew with each bump, tells apart two databases (or two histories of
    one, restored from a backup) that reached the same count: results kept on disk across
    restarts are read back only for the same version and nonce."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)
    nonce = models.CharField(max_length=32, default=new_nonce)

    class Meta:
        db_table = "dashboard_data_version"

    def __str__(self) -> str:
        return str(self.version)
