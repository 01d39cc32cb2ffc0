"""Funnel, attrition, acquisition and sales team pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from pilotage.web.dashboard import charts
from pilotage.web.dashboard.access import can_read_analytics, visible_contacts, visible_reps
from pilotage.web.dashboard.budget import within_budget
from pilotage.web.dashboard.selectors import analysis
from pilotage.web.dashboard.views.common import DEFAULT_GRAINS, picker, picker_context


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "dashboard/forbidden.html",
        {"reason": _("Company-wide analytics are for managers and administrators.")},
        status=403,
    )


@login_required
@within_budget
def funnel(request: HttpRequest) -> HttpResponse:
    if not can_read_analytics(request.user):
        return _forbidden(request)
    p = picker(request, DEFAULT_GRAINS["funnel"])
    f = analysis.funnel(p.grain, p.period)
    funnel_chart = charts.funnel(list(f.stages), f.counts) if f.counts else None
    channels = [c.channel for c in f.channels]
    versus_chart = charts.grouped_bars(
        channels,
        [
            (_("Lead conversion"), [c.conversion for c in f.channels]),
            (_("Early churn"), [c.early_churn for c in f.channels]),
        ],
        "rate",
        "",
    )
    return render(
        request,
        "dashboard/funnel.html",
        {
            "f": f,
            "funnel_chart": funnel_chart,
            "versus_chart": versus_chart,
            **picker_context(p, f.period),
        },
    )


@login_required
@within_budget
def attrition(request: HttpRequest) -> HttpResponse:
    if not can_read_analytics(request.user):
        return _forbidden(request)
    p = picker(request, DEFAULT_GRAINS["attrition"])
    a = analysis.attrition(p.grain, p.period, visible_contacts(request.user))
    churn = a.series.get("customer_churn_rate", [])
    retention = a.series.get("customer_retention_rate", [])
    rates_chart = charts.lines(
        [r.period for r in churn],
        [
            (_("Customer churn rate"), [r.value for r in churn]),
            (_("Customer retention rate"), [r.value for r in retention]),
            (
                _("Subscription churn rate"),
                [r.value for r in a.series.get("subscription_churn_rate", [])],
            ),
        ],
        "rate",
        a.currency,
    )
    heatmap = (
        charts.heatmap(a.cohorts.months, [str(o) for o in a.cohorts.offsets], a.cohorts.retention)
        if a.cohorts.months
        else None
    )
    return render(
        request,
        "dashboard/attrition.html",
        {
            "a": a,
            "rates_chart": rates_chart,
            "heatmap": heatmap,
            "cohort_rows": list(zip(a.cohorts.months, a.cohorts.sizes, strict=True)),
            **picker_context(p, a.period),
        },
    )


@login_required
@within_budget
def acquisition(request: HttpRequest) -> HttpResponse:
    if not can_read_analytics(request.user):
        return _forbidden(request)
    p = picker(request, DEFAULT_GRAINS["acquisition"])
    model = request.GET.get("model", "")
    a = analysis.acquisition(p.grain, p.period, model)
    spending = [row for row in a.channels if row.spend]
    roi_chart = charts.bars(
        [row.name for row in spending],
        [row.roi for row in spending],
        "rate",
        a.currency,
        colors=[charts.GOOD if (row.roi or 0) >= 0 else charts.BAD for row in spending],
    )
    cac_chart = charts.bars(
        [row.name for row in spending], [row.cac for row in spending], "money", a.currency
    )
    return render(
        request,
        "dashboard/acquisition.html",
        {
            "a": a,
            "roi_chart": roi_chart,
            "cac_chart": cac_chart,
            "extra_params": [("model", a.model)],
            **picker_context(p, a.period),
        },
    )


@login_required
@within_budget
def team(request: HttpRequest) -> HttpResponse:
    p = picker(request, DEFAULT_GRAINS["team"])
    sort = request.GET.get("sort", "revenue_won")
    t = analysis.team(p.grain, p.period, visible_reps(request.user), sort)
    trend_chart = charts.lines(t.trend_periods, t.trend, "money", t.currency)
    return render(
        request,
        "dashboard/team.html",
        {
            "t": t,
            "trend_chart": trend_chart,
            "extra_params": [("sort", t.sort)],
            **picker_context(p, t.period),
        },
    )
