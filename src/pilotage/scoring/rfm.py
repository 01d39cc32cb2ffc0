"""RFM segmentation of customers (scoring.md section 2).

For each customer with at least one paid order up to as_of: recency R = days since the
last paid order (exact days; lower is better), frequency F = paid orders, monetary M = paid
revenue. Each is scored 1..5 over the customer base by quintile of its empirical
cumulative distribution, computed on counts, never on rounded fractions:

    k(v) = #{customers whose value is at most v}  (F, M: higher is better)
    k(v) = #{customers whose value is at least v} (R: more recent is better)
    score(v) = ceil(5 * k(v) / N)                 (integer arithmetic: (5k + N - 1) // N)

so tied values share one k, the largest of their positions: ties share the higher score.
With N = 5 distinct values the scores are 1..5; a base of one customer scores 5.

`QuintileEdges` keeps, per measure, the smallest value reaching each score 2..5, so that one
customer rescored later (in the CRM) is placed on the base of the last batch exactly as
if it had been part of it.

Segments: the classic table, first match wins, else "others".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# (segment, R range, F range, M range), inclusive; first match wins.
SEGMENTS: tuple[tuple[str, tuple[int, int], tuple[int, int], tuple[int, int]], ...] = (
    ("champions", (5, 5), (5, 5), (5, 5)),
    ("potential_loyalists", (3, 5), (3, 5), (2, 5)),
    ("loyal_customers", (2, 4), (2, 4), (2, 4)),
    ("promising", (3, 4), (1, 3), (3, 5)),
    ("new_customers", (4, 5), (1, 3), (1, 5)),
    ("cant_lose_them", (1, 2), (3, 4), (4, 5)),
    ("at_risk", (1, 2), (2, 5), (4, 5)),
    ("need_attention", (1, 3), (3, 5), (3, 5)),
    ("about_to_sleep", (2, 3), (1, 3), (1, 4)),
    ("lost", (1, 1), (1, 5), (1, 5)),
)
OTHERS = "others"


def quintile_scores(values: FloatArray, *, higher_is_better: bool = True) -> IntArray:
    """Scores 1..5 of each value within `values` (see the module docstring)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ordered = np.sort(values)
    if higher_is_better:
        k = np.searchsorted(ordered, values, side="right")
    else:
        k = n - np.searchsorted(ordered, values, side="left")
    return ((5 * k.astype(np.int64) + n - 1) // n).astype(np.int64)


@dataclass(frozen=True)
class QuintileEdges:
    """Per measure, the values from which scores 2, 3, 4 and 5 are reached (for R, the
    largest recency still reaching them)."""

    recency: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]
    customers: int

    def to_dict(self) -> dict[str, object]:
        return {
            "recency": list(self.recency),
            "frequency": list(self.frequency),
            "monetary": list(self.monetary),
            "customers": self.customers,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> QuintileEdges:
        def floats(key: str) -> tuple[float, ...]:
            raw = data[key]
            assert isinstance(raw, list)
            return tuple(float(v) for v in raw)

        customers = data.get("customers", 0)
        assert isinstance(customers, int)
        return cls(floats("recency"), floats("frequency"), floats("monetary"), customers)

    def scores(self, recency: float, frequency: float, monetary: float) -> tuple[int, int, int]:
        r = 1 + sum(1 for edge in self.recency if recency <= edge)
        f = 1 + sum(1 for edge in self.frequency if frequency >= edge)
        m = 1 + sum(1 for edge in self.monetary if monetary >= edge)
        return r, f, m


def edges(values: FloatArray, *, higher_is_better: bool = True) -> tuple[float, ...]:
    """The thresholds of scores 2..5: score >= s iff k(v) >= floor((s - 1) N / 5) + 1,
    i.e. iff v reaches the value at that position in the base sorted from worst to best."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n == 0:
        return ()
    ordered = np.sort(values) if higher_is_better else np.sort(values)[::-1]
    return tuple(float(ordered[(s - 1) * n // 5]) for s in range(2, 6))


def quintile_edges(frame: pd.DataFrame) -> QuintileEdges:
    """Edges of a frame with `recency_days`, `frequency`, `monetary` (one row a customer)."""
    return QuintileEdges(
        edges(frame["recency_days"].to_numpy(np.float64), higher_is_better=False),
        edges(frame["frequency"].to_numpy(np.float64)),
        edges(frame["monetary"].to_numpy(np.float64)),
        len(frame),
    )


def segment_of(r: int, f: int, m: int) -> str:
    for name, (r0, r1), (f0, f1), (m0, m1) in SEGMENTS:
        if r0 <= r <= r1 and f0 <= f <= f1 and m0 <= m <= m1:
            return name
    return OTHERS


def rfm_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """`r`, `f`, `m` and `segment` for a frame of customers with `recency_days`,
    `frequency` and `monetary` (same index)."""
    r = quintile_scores(frame["recency_days"].to_numpy(np.float64), higher_is_better=False)
    f = quintile_scores(frame["frequency"].to_numpy(np.float64))
    m = quintile_scores(frame["monetary"].to_numpy(np.float64))
    # 125 combinations: look each segment up once.
    table = np.empty((6, 6, 6), dtype=object)
    for a in range(1, 6):
        for b in range(1, 6):
            for c in range(1, 6):
                table[a, b, c] = segment_of(a, b, c)
    return pd.DataFrame(
        {"r": r, "f": f, "m": m, "segment": table[r, f, m] if len(r) else []},
        index=frame.index,
    )
