"""Plotly figures (as plain JSON-able dicts) for the pages: the data comes from the
selectors, the look is decided here, and `static/pilotage/app.js` draws them with the
Plotly bundle served by this server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _

BRAND = "#0b6bcb"
MUTED = "#94a3b8"
GOOD = "#15803d"
BAD = "#b91c1c"
PALETTE = ["#0b6bcb", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#06b6d4", "#84cc16", "#ec4899"]


def layout(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "margin": {"l": 56, "r": 16, "t": 16, "b": 48},
        "height": 320,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        "xaxis": {"gridcolor": "#eef2f6", "automargin": True},
        "yaxis": {"gridcolor": "#eef2f6", "zeroline": False, "automargin": True},
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "x unified",
    }
    base.update(extra)
    return base


def axis_format(unit: str, currency: str) -> dict[str, Any]:
    if unit == "rate":
        return {"tickformat": ".0%", "automargin": True}
    if unit == "money":
        return {"ticksuffix": f" {currency}", "tickformat": ",.0f", "automargin": True}
    return {"tickformat": ",.4~g", "automargin": True}


def trend(
    periods: Sequence[str],
    values: Sequence[float | None],
    complete: Sequence[bool],
    unit: str,
    currency: str,
    name: str,
    target: float | None = None,
) -> dict[str, Any]:
    """A KPI over periods; periods still in progress are drawn hollow and dotted."""
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": list(periods),
            "y": list(values),
            "name": name,
            "line": {"color": BRAND, "width": 2.5},
            "marker": {
                "size": 7,
                "color": [BRAND if done else "#fff" for done in complete],
                "line": {"color": BRAND, "width": 2},
            },
            "connectgaps": False,
        }
    ]
    if not all(complete):
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [p for p, done in zip(periods, complete, strict=True) if not done],
                "y": [v for v, done in zip(values, complete, strict=True) if not done],
                "name": _("in progress"),
                "marker": {"size": 9, "color": "#fff", "line": {"color": MUTED, "width": 2}},
                "hoverinfo": "skip",
            }
        )
    if target is not None:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": list(periods),
                "y": [target] * len(periods),
                "name": _("target"),
                "line": {"color": GOOD, "dash": "dash", "width": 1.5},
            }
        )
    return {
        "data": data,
        "layout": layout(yaxis={"gridcolor": "#eef2f6", **axis_format(unit, currency)}),
    }


def bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    unit: str,
    currency: str,
    horizontal: bool = True,
    colors: Sequence[str] | None = None,
) -> dict[str, Any]:
    height = max(240, 28 * len(labels) + 80) if horizontal else 320
    trace: dict[str, Any] = {
        "type": "bar",
        "orientation": "h" if horizontal else "v",
        "marker": {"color": list(colors) if colors else BRAND},
    }
    if horizontal:
        trace.update(x=list(values), y=list(labels))
        axes = {
            "xaxis": {"gridcolor": "#eef2f6", **axis_format(unit, currency)},
            "yaxis": {"autorange": "reversed", "automargin": True},
        }
    else:
        trace.update(x=list(labels), y=list(values))
        axes = {"yaxis": {"gridcolor": "#eef2f6", **axis_format(unit, currency)}}
    return {"data": [trace], "layout": layout(height=height, hovermode="closest", **axes)}


def grouped_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    unit: str,
    currency: str,
) -> dict[str, Any]:
    data = [
        {
            "type": "bar",
            "name": name,
            "x": list(labels),
            "y": list(values),
            "marker": {"color": PALETTE[index % len(PALETTE)]},
        }
        for index, (name, values) in enumerate(series)
    ]
    return {
        "data": data,
        "layout": layout(
            barmode="group",
            hovermode="closest",
            yaxis={"gridcolor": "#eef2f6", **axis_format(unit, currency)},
        ),
    }


def lines(
    periods: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    unit: str,
    currency: str,
) -> dict[str, Any]:
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "x": list(periods),
            "y": list(values),
            "line": {"color": PALETTE[index % len(PALETTE)], "width": 2},
            "marker": {"size": 5},
        }
        for index, (name, values) in enumerate(series)
    ]
    return {
        "data": data,
        "layout": layout(yaxis={"gridcolor": "#eef2f6", **axis_format(unit, currency)}),
    }


def funnel(stages: Sequence[str], counts: Sequence[float]) -> dict[str, Any]:
    return {
        "data": [
            {
                "type": "funnel",
                "y": list(stages),
                "x": list(counts),
                "textinfo": "value+percent initial",
                "marker": {"color": PALETTE[: len(stages)]},
            }
        ],
        "layout": layout(height=300, margin={"l": 110, "r": 16, "t": 8, "b": 8}),
    }


def heatmap(
    rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]]
) -> dict[str, Any]:
    text = [["" if v is None else f"{v:.0%}" for v in row] for row in values]
    return {
        "data": [
            {
                "type": "heatmap",
                "x": list(columns),
                "y": list(rows),
                "z": [list(row) for row in values],
                "text": text,
                "texttemplate": "%{text}",
                "colorscale": [[0, "#f1f5f9"], [0.5, "#7fb2e5"], [1, "#0b4f96"]],
                "zmin": 0,
                "zmax": 1,
                "hoverongaps": False,
                "colorbar": {"tickformat": ".0%", "thickness": 12},
            }
        ],
        "layout": layout(
            height=max(280, 26 * len(rows) + 90),
            hovermode="closest",
            xaxis={"title": {"text": _("Months since acquisition")}, "side": "top"},
            yaxis={"autorange": "reversed", "type": "category"},
            margin={"l": 70, "r": 16, "t": 48, "b": 16},
        ),
    }
