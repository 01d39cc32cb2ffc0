"""What every page view shares: the period picker's parameters and the language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.translation import get_language

from pilotage.engine.periods import Grain, Period
from pilotage.web.dashboard.analytics import company_settings, parse_grain, period_choices

PICKER_GRAINS: tuple[Grain, ...] = ("week", "month", "quarter", "year")
# The grain each page opens at (what the cache warmer computes after a write).
DEFAULT_GRAINS: dict[str, Grain] = {
    "dashboard": "month",
    "kpi": "month",
    "funnel": "quarter",
    "attrition": "month",
    "acquisition": "quarter",
    "team": "month",
}


@dataclass(frozen=True)
class Picker:
    grain: Grain
    period: str | None
    choices: list[Period]


def language(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", None) or get_language() or "en"


def picker(request: HttpRequest, default: Grain = "month") -> Picker:
    grain = parse_grain(request.GET.get("grain"), default)
    if grain not in PICKER_GRAINS:
        grain = default
    choices = list(reversed(period_choices(grain, company_settings())))
    return Picker(grain, request.GET.get("period") or None, choices)


def picker_context(p: Picker, period: Period) -> dict[str, Any]:
    return {
        "grain": p.grain,
        "grains": PICKER_GRAINS,
        "period": period,
        "period_choices": p.choices,
    }
