"""Dashboard, KPI catalogue and KPI pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pilotage.engine.catalogue import KPIS
from pilotage.engine.context import DIMENSIONS
from pilotage.web.dashboard import charts, services
from pilotage.web.dashboard.access import can_manage_company, rep_of, visible_reps
from pilotage.web.dashboard.budget import within_budget
from pilotage.web.dashboard.selectors import kpis as selectors
from pilotage.web.dashboard.views.common import DEFAULT_GRAINS, language, picker, picker_context


@login_required
@within_budget
def dashboard(request: HttpRequest) -> HttpResponse:
    p = picker(request, DEFAULT_GRAINS["dashboard"])
    board = selectors.dashboard(
        request.user, p.grain, p.period, language(request), rep_of(request.user)
    )
    return render(
        request,
        "dashboard/dashboard.html",
        {"board": board, **picker_context(p, board.period)},
    )


@login_required
def catalogue(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    sections = selectors.catalogue(request.user, language(request), query)
    return render(
        request,
        "dashboard/catalogue.html",
        {
            "sections": sections,
            "query": query,
            "can_manage": can_manage_company(request.user),
            "grains": ("week", "month", "quarter", "year"),
        },
    )


@login_required
@within_budget
def kpi_page(request: HttpRequest, name: str) -> HttpResponse:
    if name not in KPIS:
        raise Http404(name)
    p = picker(request, DEFAULT_GRAINS["kpi"])
    by_text = request.GET.get("by") or None
    by = next((d for d in DIMENSIONS if d == by_text), None)
    kpi = KPIS[name]
    if by is None and kpi.breakdowns:
        by = kpi.breakdowns[0]
    scope = None if can_manage_company(request.user) else visible_reps(request.user)
    rep_id = rep_of(request.user)
    if rep_id is not None and "owner" not in kpi.breakdowns:
        return HttpResponseForbidden(_("This KPI is a company-wide figure."))
    detail = selectors.kpi_detail(name, p.grain, p.period, by, language(request), scope, rep_id)
    trend_chart = charts.trend(
        [row.period for row in detail.trend],
        [row.value for row in detail.trend],
        [row.complete for row in detail.trend],
        kpi.unit,
        detail.currency,
        detail.label,
        detail.card.target,
    )
    shown = detail.breakdown[:25]
    breakdown_chart = (
        charts.bars([r.name for r in shown], [r.value for r in shown], kpi.unit, detail.currency)
        if shown
        else None
    )
    return render(
        request,
        "dashboard/kpi.html",
        {
            "d": detail,
            "trend_chart": trend_chart,
            "breakdown_chart": breakdown_chart,
            "can_manage": can_manage_company(request.user),
            **picker_context(p, detail.period),
        },
    )


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or default
    if not target.startswith("/") or target.startswith("//"):
        target = default
    return redirect(target)


@login_required
@require_POST
def kpi_pin_toggle(request: HttpRequest, name: str) -> HttpResponse:
    if name not in KPIS:
        raise Http404(name)
    pinned = request.POST.get("pin") == "1"
    if pinned:
        services.kpi_pin(user=request.user, kpi=name)
    else:
        services.kpi_unpin(user=request.user, kpi=name)
    if request.headers.get("HX-Request"):
        return render(request, "dashboard/_pin_button.html", {"name": name, "pinned": pinned})
    return _back(request, "/kpis/")


@login_required
@require_POST
def kpi_target(request: HttpRequest, name: str) -> HttpResponse:
    if not can_manage_company(request.user):
        return HttpResponseForbidden(_("Only an administrator can set targets."))
    if name not in KPIS:
        raise Http404(name)
    grain = request.POST.get("grain", "month")
    text = request.POST.get("value", "").strip().replace(",", ".").replace("\u00a0", "")
    try:
        value = float(text) if text else None
        if KPIS[name].unit == "rate" and value is not None:
            value = value / 100  # rates are typed as percentages
        services.kpi_target_set(user=request.user, kpi=name, grain=grain, value=value)
    except (ValueError, services.ServiceError) as error:
        messages.error(request, _("Target not saved: %(error)s") % {"error": error})
    else:
        messages.success(request, _("Target saved."))
    return _back(request, f"/kpis/{name}/")
