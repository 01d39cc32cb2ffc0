"""Model checks a user can read: calibration versus holdout.

For each calibration frequency (0, 1, ..., 7+ repeat purchase days), the mean number of
repeat purchase days customers actually made in the holdout period and the mean the model
predicted for them (Fader, Hardie & Lee 2005, figure 4). Close bars mean the model ranks
and scales customers right; a model that over-predicts the heavy buyers shows it at 7+.
"""

from __future__ import annotations

from html import escape

import numpy as np
import pandas as pd

from pilotage.clv.value import TransactionModel


def calibration_holdout_report(
    model: TransactionModel, summary: pd.DataFrame, *, max_frequency: int = 7
) -> pd.DataFrame:
    """Rows per calibration-frequency bucket: customers, actual and predicted mean holdout
    purchases. `summary` needs the holdout columns of `customer_summary(..., holdout_end=)`."""
    missing = {"frequency_holdout", "duration_holdout"} - set(summary.columns)
    if missing:
        raise ValueError(
            f"the summary has no holdout columns ({', '.join(sorted(missing))}): "
            "build it with a holdout end date"
        )
    if max_frequency < 1:
        raise ValueError("max_frequency: must be at least 1")
    frequency = summary["frequency"].to_numpy(dtype=np.float64)
    predicted = model.conditional_expected_purchases(
        summary["duration_holdout"].to_numpy(dtype=np.float64),
        frequency,
        summary["recency"].to_numpy(dtype=np.float64),
        summary["T"].to_numpy(dtype=np.float64),
    )
    bucket = np.minimum(frequency, max_frequency).astype(int)
    frame = pd.DataFrame(
        {
            "bucket": bucket,
            "actual": summary["frequency_holdout"].to_numpy(dtype=np.float64),
            "predicted": predicted,
        }
    )
    grouped = frame.groupby("bucket").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    grouped = grouped.reindex(range(max_frequency + 1))
    grouped["customers"] = grouped["customers"].fillna(0).astype("int64")
    labels = [str(b) for b in range(max_frequency)] + [f"{max_frequency}+"]
    report = pd.DataFrame(
        {
            "frequency": labels,
            "customers": grouped["customers"].to_numpy(),
            "actual": grouped["actual"].to_numpy(),
            "predicted": grouped["predicted"].to_numpy(),
        }
    )
    return report


def calibration_holdout_html(report: pd.DataFrame, *, title: str) -> str:
    """A standalone HTML page (inline SVG, no script, no dependency) of the report."""
    width, height = 720, 360
    left, right, top, bottom = 60, 20, 40, 50
    plot_width, plot_height = width - left - right, height - top - bottom
    values = np.nan_to_num(report[["actual", "predicted"]].to_numpy(dtype=np.float64))
    ceiling = float(values.max()) * 1.1 if values.size and values.max() > 0 else 1.0
    slot = plot_width / max(len(report), 1)
    bar = slot * 0.35
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    for tick in np.linspace(0, ceiling, 5):
        y = top + plot_height * (1 - tick / ceiling)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{tick:.2f}</text>"
        )
    for i, row in enumerate(report.itertuples(index=False)):
        x0 = left + i * slot + (slot - 2 * bar) / 2
        for j, (name, colour) in enumerate((("actual", "#1f77b4"), ("predicted", "#ff7f0e"))):
            value = float(getattr(row, name)) if not pd.isna(getattr(row, name)) else 0.0
            h = plot_height * value / ceiling
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{top + plot_height - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{name} {value:.3f} ({row.customers} customers)</title></rect>"
            )
        parts.append(
            f'<text x="{left + (i + 0.5) * slot:.1f}" y="{top + plot_height + 16}" '
            f'text-anchor="middle" font-size="12">{escape(str(row.frequency))}</text>'
        )
    parts.append(
        f'<text x="{left + plot_width / 2}" y="{height - 8}" text-anchor="middle" '
        'font-size="12">repeat purchases in the calibration period</text>'
        f'<rect x="{width - 190}" y="{top}" width="12" height="12" fill="#1f77b4"/>'
        f'<text x="{width - 172}" y="{top + 11}" font-size="12">actual (holdout)</text>'
        f'<rect x="{width - 190}" y="{top + 18}" width="12" height="12" fill="#ff7f0e"/>'
        f'<text x="{width - 172}" y="{top + 29}" font-size="12">predicted</text></svg>'
    )
    table = report.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em}"
        "table{border-collapse:collapse}td,th{padding:4px 10px;text-align:right}"
        "</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        "<p>Mean repeat purchases in the holdout period, actual and predicted, by number of "
        "repeat purchases in the calibration period.</p>"
        f"{''.join(parts)}{table}</body></html>\n"
    )
