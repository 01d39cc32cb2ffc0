"""Predictive customer lifetime value (scoring.md section 4).

CLV = sum over the next H months m = 1..H of
      E[purchases in month m | x, t_x, T] * E[value per purchase | x, m_x] * margin / (1 + d)^m
where the expected purchases come from a transaction model (BG/NBD or Pareto/NBD), the
expected value from Gamma-Gamma, the margin is the setting `gross_margin` and d the monthly
`discount_rate`. A month is 365.25 / 12 days (4.348 weeks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from pilotage.clv._fitting import FloatArray, as_float_array
from pilotage.clv.gamma_gamma import GammaGamma
from pilotage.clv.summary import UNIT_DAYS, Unit

DAYS_PER_MONTH = 365.25 / 12


class TransactionModel(Protocol):
    """What CLV needs of BG/NBD and Pareto/NBD."""

    def conditional_expected_purchases(
        self,
        t: float | FloatArray,
        frequency: Sequence[float] | FloatArray,
        recency: Sequence[float] | FloatArray,
        T: Sequence[float] | FloatArray,
    ) -> FloatArray: ...

    def conditional_probability_alive(
        self,
        frequency: Sequence[float] | FloatArray,
        recency: Sequence[float] | FloatArray,
        T: Sequence[float] | FloatArray,
    ) -> FloatArray: ...


def units_per_month(unit: Unit) -> float:
    if unit not in UNIT_DAYS:
        raise ValueError(f"unit: {unit!r} is not one of {tuple(UNIT_DAYS)}")
    return DAYS_PER_MONTH / UNIT_DAYS[unit]


def customer_lifetime_value(
    transaction_model: TransactionModel,
    value_model: GammaGamma,
    frequency: Sequence[float] | FloatArray,
    recency: Sequence[float] | FloatArray,
    T: Sequence[float] | FloatArray,
    monetary_value: Sequence[float] | FloatArray,
    *,
    unit: Unit,
    horizon_months: int = 12,
    discount_rate: float = 0.01,
    margin: float = 1.0,
) -> FloatArray:
    """Discounted expected margin of each customer over the next `horizon_months` months."""
    if horizon_months <= 0:
        raise ValueError("horizon_months: must be a positive number of months")
    if discount_rate <= -1:
        raise ValueError("discount_rate: must be > -1 (a monthly rate such as 0.01)")
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    age = as_float_array(T, "T")
    value = value_model.conditional_expected_average_value(x, monetary_value)
    month = units_per_month(unit)
    total = np.zeros_like(x)
    previous = np.zeros_like(x)
    for m in range(1, horizon_months + 1):
        cumulative = transaction_model.conditional_expected_purchases(m * month, x, t_x, age)
        total += (cumulative - previous) * value * margin / (1 + discount_rate) ** m
        previous = cumulative
    return total
