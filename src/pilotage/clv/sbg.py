"""Shifted-beta-geometric model of contractual retention (Fader & Hardie 2007,
"How to project customer retention", Journal of Interactive Marketing 21(1)).

Each customer renews at the end of every period with probability 1 - theta, and theta is
Beta(alpha, beta) across the cohort. With the cohort's number of active customers at the
start of periods 0, 1, ..., n:
    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)   (churn at the end of period t)
    S(t)     = B(alpha, beta + t) / B(alpha, beta)           (still active after period t)
    r(t)     = (beta + t - 1) / (alpha + beta + t - 1)        (retention rate, rising with t)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from pilotage.clv._fitting import FloatArray, as_float_array, fit_log_parameters

PARAMETER_NAMES = ("alpha", "beta")


class ShiftedBetaGeometric:
    """sBG: `ShiftedBetaGeometric().fit([1000, 631, 468, ...]).survival([8, 9, 10])`."""

    def __init__(self, initial_params: Sequence[float] = (1.0, 1.0)) -> None:
        self.initial_params = initial_params

    def fit(self, active_customers: Sequence[float] | FloatArray) -> ShiftedBetaGeometric:
        """Fit on the cohort's active customers at the start of periods 0..n (counts).

        Those lost in period t are active[t-1] - active[t]; those still active after the
        last period are right-censored."""
        active = as_float_array(active_customers, "active_customers")
        if len(active) < 2:
            raise ValueError("active_customers: needs the cohort size and at least one period")
        lost = -np.diff(active)
        if np.any(active < 0) or np.any(lost < 0):
            raise ValueError("active_customers: must be >= 0 and never increase")
        periods = np.arange(1, len(active), dtype=np.float64)
        survivors = float(active[-1])

        def negative_log_likelihood(log_params: FloatArray) -> float:
            alpha, beta = np.exp(log_params)
            base = special.betaln(alpha, beta)
            churn = special.betaln(alpha + 1, beta + periods - 1) - base
            still = special.betaln(alpha, beta + periods[-1]) - base
            return -float(np.sum(lost * churn) + survivors * still)

        fit = fit_log_parameters(PARAMETER_NAMES, negative_log_likelihood, self.initial_params)
        self.params_ = fit.params
        self.log_likelihood_ = fit.log_likelihood
        self.standard_errors_ = fit.standard_errors
        self.covariance_ = fit.covariance
        self.cohort_size_ = float(active[0])
        return self

    def fit_percentages(
        self, survival_percent: Sequence[float] | FloatArray, cohort_size: float
    ) -> ShiftedBetaGeometric:
        """Fit from survival percentages (100, 63.1, ...) of a cohort of `cohort_size`."""
        percent = as_float_array(survival_percent, "survival_percent")
        return self.fit(percent / 100.0 * cohort_size)

    def _values(self) -> tuple[float, float]:
        try:
            params = self.params_
        except AttributeError:
            raise RuntimeError("ShiftedBetaGeometric is not fitted yet: call fit() first") from None
        return params["alpha"], params["beta"]

    def churn_probability(self, period: Sequence[float] | FloatArray) -> FloatArray:
        """P(T = t): probability of churning at the end of period t (t = 1, 2, ...)."""
        alpha, beta = self._values()
        t = as_float_array(period, "period")
        return np.asarray(
            np.exp(special.betaln(alpha + 1, beta + t - 1) - special.betaln(alpha, beta)),
            dtype=np.float64,
        )

    def survival(self, period: Sequence[float] | FloatArray) -> FloatArray:
        """S(t): share of the cohort still active after t periods (S(0) = 1)."""
        alpha, beta = self._values()
        t = as_float_array(period, "period")
        return np.asarray(
            np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta)),
            dtype=np.float64,
        )

    def retention_rate(self, period: Sequence[float] | FloatArray) -> FloatArray:
        """r(t) = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1), t = 1, 2, ..."""
        alpha, beta = self._values()
        t = as_float_array(period, "period")
        return np.asarray((beta + t - 1) / (alpha + beta + t - 1), dtype=np.float64)
