"""Numbers, money, rates and durations formatted for the reader's language, and the small
inline charts (sparklines) of the dashboard."""

from __future__ import annotations

import math
from typing import Any

from django import template
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

register = template.Library()

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF"}


def _number(value: float, decimals: int) -> str:
    return str(formats.number_format(value, decimals, use_l10n=True, force_grouping=True))


def money(value: float, currency: str = "EUR", decimals: int = 0) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    text = _number(abs(value), decimals)
    sign = "-" if value < 0 else ""
    if (get_language() or "en").startswith("fr"):
        return f"{sign}{text}\u00a0{symbol}"
    if len(symbol) > 1:
        return f"{sign}{symbol}\u00a0{text}"
    return f"{sign}{symbol}{text}"


def format_value(value: float | None, unit: str, currency: str = "EUR") -> str:
    """A KPI value as a reader expects it: 12,345 / €1,234 / 12.5% / 3.9 days."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    french = (get_language() or "en").startswith("fr")
    if unit == "money":
        return money(value, currency, 0 if abs(value) >= 100 else 2)
    if unit == "rate":
        percent = _number(value * 100, 1)
        return f"{percent}\u00a0%" if french else f"{percent}%"
    if unit == "days":
        return gettext("%(n)s d") % {"n": _number(value, 1)}
    if unit == "months":
        return gettext("%(n)s mo") % {"n": _number(value, 1)}
    if unit == "ratio":
        return f"{_number(value, 2)}×"
    decimals = 0 if float(value).is_integer() else 1
    return _number(value, decimals)


@register.simple_tag
def kpi_value(value: float | None, unit: str, currency: str = "EUR") -> str:
    return format_value(value, unit, currency)


@register.filter
def number(value: Any, decimals: int = 0) -> str:
    if value is None:
        return "—"
    return _number(float(value), int(decimals))


@register.simple_tag
def money_value(value: Any, currency: str = "EUR", decimals: int = 0) -> str:
    if value is None:
        return "—"
    return money(float(value), currency, decimals)


@register.filter
def percent(value: Any, decimals: int = 1) -> str:
    return format_value(None if value is None else float(value), "rate") if decimals else ""


@register.simple_tag
def change_value(change: float | None, unit: str) -> str:
    """A change between periods: in points for rates, relative for the others."""
    if change is None:
        return "—"
    french = (get_language() or "en").startswith("fr")
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    if unit == "rate":
        points = _number(abs(change) * 100, 1)
        return f"{sign}{points}\u00a0" + gettext("pts")
    percent_text = _number(abs(change) * 100, 1)
    return f"{sign}{percent_text}\u00a0%" if french else f"{sign}{percent_text}%"


@register.simple_tag
def sparkline(values: list[float | None], label: str = "") -> SafeString:
    """An inline SVG line of the values (gaps for missing ones), 120 x 32."""
    points = [v for v in values if v is not None]
    if len(points) < 2:
        return mark_safe('<svg class="spark" viewBox="0 0 120 32" aria-hidden="true"></svg>')
    low, high = min(points), max(points)
    spread = (high - low) or 1.0
    step = 120 / max(len(values) - 1, 1)
    segments: list[list[str]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            segments.append([])
            continue
        x = index * step
        y = 30 - (value - low) / spread * 28
        segments[-1].append(f"{x:.1f},{y:.1f}")
    lines = "".join(
        f'<polyline points="{" ".join(segment)}"/>' for segment in segments if len(segment) > 1
    )
    last_x, last_y = segments[-1][-1].split(",") if segments[-1] else ("0", "0")
    dot = f'<circle cx="{last_x}" cy="{last_y}" r="2.5"/>' if segments[-1] else ""
    return format_html(
        '<svg class="spark" viewBox="0 0 120 32" role="img" aria-label="{}">{}{}</svg>',
        label,
        mark_safe(lines),  # noqa: S308 - numbers formatted above
        mark_safe(dot),  # noqa: S308
    )


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key) if mapping else None


@register.filter
def reason(lever: Any, language: str) -> str:
    """A lever's reason in the reader's language."""
    return str(lever.reason(language or "en"))
