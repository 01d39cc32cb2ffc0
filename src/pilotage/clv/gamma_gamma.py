"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005; Colombo & Jiang 1999).

A customer's purchase values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers,
so the mean m_x of their x repeat purchase values has the density
    f(m_x | x) = G(px+q) / (G(px) G(q)) gamma^q m_x^(px-1) x^(px) / (gamma + x m_x)^(px+q).
Fitted on repeat buyers only (x > 0), with m_x their mean repeat purchase-day value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from pilotage.clv._fitting import FloatArray, as_float_array, compress_rows, fit_log_parameters

PARAMETER_NAMES = ("p", "q", "gamma")


class GammaGamma:
    """The Gamma-Gamma spend model: `GammaGamma().fit(x, m_x).params_`."""

    def __init__(
        self, penalizer: float = 0.0, initial_params: Sequence[float] = (1.0, 1.0, 1.0)
    ) -> None:
        self.penalizer = penalizer
        self.initial_params = initial_params

    def fit(
        self,
        frequency: Sequence[float] | FloatArray,
        monetary_value: Sequence[float] | FloatArray,
    ) -> GammaGamma:
        """Fit on repeat buyers; customers with x = 0 are left out (they carry no m_x)."""
        x = as_float_array(frequency, "frequency")
        m = as_float_array(monetary_value, "monetary_value")
        if len(x) != len(m):
            raise ValueError("frequency and monetary_value must have the same length")
        repeat = x > 0
        x, m = x[repeat], m[repeat]
        if len(x) < 3:
            raise ValueError("Gamma-Gamma needs at least 3 customers with a repeat purchase")
        if np.any(m <= 0):
            raise ValueError("monetary_value: must be > 0 for customers with x > 0")
        (x, m), weights = compress_rows(x, m)
        fit = fit_log_parameters(
            PARAMETER_NAMES,
            lambda p: -float(np.sum(weights * _log_likelihood(np.exp(p), x, m))),
            self.initial_params,
            gradient=lambda p: -_gradient(np.exp(p), x, m, weights),
            penalizer=self.penalizer,
        )
        self.params_ = fit.params
        self.log_likelihood_ = fit.log_likelihood
        self.standard_errors_ = fit.standard_errors
        self.covariance_ = fit.covariance
        self.n_customers_ = int(weights.sum())
        return self

    def _values(self) -> tuple[float, float, float]:
        try:
            params = self.params_
        except AttributeError:
            raise RuntimeError("GammaGamma is not fitted yet: call fit() first") from None
        return params["p"], params["q"], params["gamma"]

    def population_average_value(self) -> float:
        """E[Z] = p gamma / (q - 1), the mean spend per transaction (infinite if q <= 1)."""
        p, q, gamma = self._values()
        return p * gamma / (q - 1) if q > 1 else float("inf")

    def conditional_expected_average_value(
        self,
        frequency: Sequence[float] | FloatArray,
        monetary_value: Sequence[float] | FloatArray,
    ) -> FloatArray:
        """E[Z | x, m_x] = p (gamma + x m_x) / (p x + q - 1): a weighted mean of the
        population mean p gamma / (q - 1) and the customer's own m_x. x = 0 gives the
        population mean."""
        p, q, gamma = self._values()
        x = as_float_array(frequency, "frequency")
        m = as_float_array(monetary_value, "monetary_value")
        m = np.where(x > 0, m, 0.0)
        return np.asarray(p * (gamma + x * m) / (p * x + q - 1), dtype=np.float64)


def _log_likelihood(params: FloatArray, x: FloatArray, m: FloatArray) -> FloatArray:
    p, q, gamma = params
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * m),
        dtype=np.float64,
    )


def _gradient(params: FloatArray, x: FloatArray, m: FloatArray, weights: FloatArray) -> FloatArray:
    p, q, gamma = params
    px = p * x
    psi = special.digamma
    log_total = np.log(gamma + x * m)
    d_p = x * (psi(px + q) - psi(px) + np.log(m) + np.log(x) - log_total)
    d_q = psi(px + q) - psi(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + x * m)
    gradient = np.array([float(np.sum(weights * d)) for d in (d_p, d_q, d_gamma)], dtype=np.float64)
    return gradient * params
