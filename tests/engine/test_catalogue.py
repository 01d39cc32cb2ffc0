"""The registry holds every KPI of kpis.md, and docs/kpis.md is generated from it."""

from __future__ import annotations

from pathlib import Path

from pilotage.engine import docs
from pilotage.engine.catalogue import CATALOGUE, KPIS

KPIS_MD = [
    "new_leads",
    "new_customers",
    "lead_conversion_rate",
    "median_days_to_convert",
    "stage_conversion",
    "acquisition_spend",
    "cac",
    "roas",
    "roi",
    "active_customers",
    "churned_customers",
    "customer_churn_rate",
    "customer_retention_rate",
    "subscription_churn_rate",
    "subscription_retention_rate",
    "gross_mrr_churn_rate",
    "returning_customer_rate",
    "repeat_purchase_rate",
    "early_churn_rate",
    "revenue",
    "orders",
    "average_order_value",
    "revenue_per_customer",
    "historical_clv",
    "ltv_to_cac",
    "cac_payback_months",
    "predicted_clv",  # issue 6: scoring.md section 4's predictive CLV per new customer
    "predicted_ltv_to_cac",
    "leads_assigned",
    "rep_lead_conversion_rate",
    "deals_won",
    "deals_lost",
    "win_rate",
    "revenue_won",
    "average_deal_size",
    "median_sales_cycle_days",
    "activities",
    "expected_wins",
    "wins_over_expected",
]


def test_every_kpi_of_the_spec_is_declared_once():
    assert [kpi.name for kpi in CATALOGUE] == KPIS_MD
    assert len(KPIS) == len(CATALOGUE)


def test_windows_follow_the_spec():
    windows = {kpi.name: kpi.window for kpi in CATALOGUE if kpi.window}
    assert windows == {
        "lead_conversion_rate": "conversion",
        "median_days_to_convert": "conversion",
        "roas": "revenue",
        "roi": "revenue",
        "early_churn_rate": "inactivity",
        "rep_lead_conversion_rate": "conversion",
        "expected_wins": "conversion",
        "wins_over_expected": "conversion",
    }


def test_docs_kpis_md_is_current():
    # The checked-in page of this repository (the package may be installed elsewhere).
    checked_in = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"
    assert checked_in.read_text(encoding="utf-8") == docs.render(), (
        "docs/kpis.md is stale: run `python -m pilotage.engine.docs > docs/kpis.md`"
    )
