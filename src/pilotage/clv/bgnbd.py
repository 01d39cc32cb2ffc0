"""BG/NBD: beta-geometric / negative binomial distribution (Fader, Hardie & Lee 2005).

While alive a customer buys as a Poisson process of rate lambda ~ Gamma(r, alpha); after
each purchase they drop out with probability p ~ Beta(a, b). Fitted by maximum likelihood
on the summary (x = frequency, t_x = recency, T) of `pilotage.clv.summary`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from pilotage.clv._fitting import (
    FloatArray,
    as_float_array,
    check_rfm,
    compress_rows,
    fit_log_parameters,
    warm_start_rows,
)

PARAMETER_NAMES = ("r", "alpha", "a", "b")


class BetaGeo:
    """The BG/NBD model, scikit-learn style: `BetaGeo().fit(x, t_x, T).params_`."""

    def __init__(
        self, penalizer: float = 0.0, initial_params: Sequence[float] = (1.0, 1.0, 1.0, 1.0)
    ) -> None:
        self.penalizer = penalizer
        self.initial_params = initial_params

    def fit(
        self,
        frequency: Sequence[float] | FloatArray,
        recency: Sequence[float] | FloatArray,
        T: Sequence[float] | FloatArray,
    ) -> BetaGeo:
        x = as_float_array(frequency, "frequency")
        t_x = as_float_array(recency, "recency")
        age = as_float_array(T, "T")
        check_rfm(x, t_x, age)
        (x, t_x, age), weights = compress_rows(x, t_x, age)
        initial = list(self.initial_params)
        subset = warm_start_rows(len(x))
        if subset is not None:
            sample = _Data(x[subset], t_x[subset], age[subset], weights[subset])
            initial = list(
                fit_log_parameters(
                    PARAMETER_NAMES,
                    lambda p: -_gradient(np.exp(p), sample)[0],
                    initial,
                    gradient=lambda p: -_gradient(np.exp(p), sample)[1],
                    value_and_gradient=lambda p: _negative(_gradient(np.exp(p), sample)),
                    penalizer=self.penalizer,
                    with_standard_errors=False,
                ).params.values()
            )
        data = _Data(x, t_x, age, weights)
        fit = fit_log_parameters(
            PARAMETER_NAMES,
            lambda p: -_gradient(np.exp(p), data)[0],
            initial,
            gradient=lambda p: -_gradient(np.exp(p), data)[1],
            value_and_gradient=lambda p: _negative(_gradient(np.exp(p), data)),
            penalizer=self.penalizer,
        )
        self.params_ = fit.params
        self.log_likelihood_ = fit.log_likelihood
        self.standard_errors_ = fit.standard_errors
        self.covariance_ = fit.covariance
        self.n_customers_ = int(weights.sum())
        return self

    def _values(self) -> tuple[float, float, float, float]:
        try:
            params = self.params_
        except AttributeError:
            raise RuntimeError("BetaGeo is not fitted yet: call fit() first") from None
        return params["r"], params["alpha"], params["a"], params["b"]

    def log_likelihood(
        self,
        frequency: Sequence[float] | FloatArray,
        recency: Sequence[float] | FloatArray,
        T: Sequence[float] | FloatArray,
    ) -> FloatArray:
        """Each customer's log-likelihood under the fitted parameters."""
        x, t_x, age = _arrays(frequency, recency, T)
        return _log_likelihood(np.array(self._values()), x, t_x, age)

    def conditional_probability_alive(
        self,
        frequency: Sequence[float] | FloatArray,
        recency: Sequence[float] | FloatArray,
        T: Sequence[float] | FloatArray,
    ) -> FloatArray:
        """P(alive | x, t_x, T)
        = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)).

        One-time buyers (x = 0) are alive for sure: in BG/NBD a customer can only drop
        out right after a purchase."""
        r, alpha, a, b = self._values()
        x, t_x, age = _arrays(frequency, recency, T)
        safe_x = np.maximum(x, 1.0)
        log_odds = (
            np.log(a)
            - np.log(b + safe_x - 1)
            + (r + safe_x) * (np.log(alpha + age) - np.log(alpha + t_x))
        )
        return np.asarray(np.where(x > 0, special.expit(-log_odds), 1.0), dtype=np.float64)

    def conditional_expected_purchases(
        self,
        t: float | FloatArray,
        frequency: Sequence[float] | FloatArray,
        recency: Sequence[float] | FloatArray,
        T: Sequence[float] | FloatArray,
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next t units (FHL 2005, eq. 10)."""
        r, alpha, a, b = self._values()
        x, t_x, age = _arrays(frequency, recency, T)
        t = np.asarray(t, dtype=np.float64)
        z = t / (alpha + age + t)
        # ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) overflows for large x; by
        # Euler's transformation it equals (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose
        # parameters do not grow with x.
        hyper = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        numerator = (a + b + x - 1) / (a - 1) * (1 - np.exp((a - 1) * np.log1p(-z)) * hyper)
        denominator_odds = np.where(
            x > 0,
            a
            / (b + np.maximum(x, 1.0) - 1)
            * np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + t_x))),
            0.0,
        )
        return np.asarray(numerator / (1 + denominator_odds), dtype=np.float64)

    def expected_purchases_population(self, t: float | FloatArray) -> FloatArray:
        """E[X(t)] for a new customer
        = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]."""
        r, alpha, a, b = self._values()
        t = np.asarray(t, dtype=np.float64)
        z = t / (alpha + t)
        # Euler's transformation, as in conditional_expected_purchases.
        hyper = special.hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z)
        return np.asarray(
            (a + b - 1) / (a - 1) * (1 - np.exp((a - 1) * np.log1p(-z)) * hyper), dtype=np.float64
        )


def _arrays(
    frequency: Sequence[float] | FloatArray,
    recency: Sequence[float] | FloatArray,
    T: Sequence[float] | FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    age = as_float_array(T, "T")
    if not (len(x) == len(t_x) == len(age)):
        raise ValueError("frequency, recency and T must have the same length")
    return x, t_x, age


class _Data:
    """A summary ready for repeated likelihood evaluations: the special functions of the
    BG/NBD depend on x only, which takes few distinct values, so they are evaluated once
    per distinct x and gathered (a gather is much cheaper than a gammaln)."""

    def __init__(
        self, x: FloatArray, t_x: FloatArray, age: FloatArray, weights: FloatArray | None = None
    ) -> None:
        self.x, self.t_x, self.age = x, t_x, age
        self.weights = np.ones_like(x) if weights is None else weights
        self.distinct_x, self.inverse = np.unique(x, return_inverse=True)
        self.repeat = x > 0


def _terms(params: FloatArray, data: _Data) -> tuple[FloatArray, FloatArray, FloatArray]:
    r, alpha, a, b = params
    x, ux, back = data.x, data.distinct_x, data.inverse
    log_gamma_b_x = special.gammaln(b + ux)
    log_gamma_ab_x = special.gammaln(a + b + ux)
    base = special.betaln(a, b)
    # ln B(a, b + x) and ln B(a + 1, b + x - 1) = ln B(a, b + x) + ln a - ln(b + x - 1)
    log_beta_alive = (special.gammaln(a) + log_gamma_b_x - log_gamma_ab_x - base)[back]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio_dropped = np.where(ux > 0, np.log(a) - np.log(b + ux - 1), -np.inf)[back]
    common = (special.gammaln(r + ux) - special.gammaln(r))[back] + r * np.log(alpha)
    alive_at_t = log_beta_alive - (r + x) * np.log(alpha + data.age)
    dropped = np.where(
        data.repeat,
        log_beta_alive + log_ratio_dropped - (r + x) * np.log(alpha + data.t_x),
        -np.inf,
    )
    return common, alive_at_t, dropped


def _log_likelihood(
    params: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray
) -> FloatArray:
    """ln L = ln[G(r+x) alpha^r / G(r)] + ln[B(a, b+x)/B(a, b) (alpha+T)^-(r+x)
    + [x > 0] B(a+1, b+x-1)/B(a, b) (alpha+t_x)^-(r+x)]."""
    common, alive_at_t, dropped = _terms(params, _Data(x, t_x, age))
    return np.asarray(common + np.logaddexp(alive_at_t, dropped), dtype=np.float64)


def _negative(value_and_gradient: tuple[float, FloatArray]) -> tuple[float, FloatArray]:
    value, gradient = value_and_gradient
    return -value, -gradient


def _gradient(params: FloatArray, data: _Data) -> tuple[float, FloatArray]:
    """The weighted log-likelihood and its gradient with respect to the log parameters."""
    r, alpha, a, b = params
    x, ux, back, weights = data.x, data.distinct_x, data.inverse, data.weights
    common, alive_at_t, dropped = _terms(params, data)
    total = np.logaddexp(alive_at_t, dropped)
    value = float(np.sum(weights * (common + total)))
    # Share of the likelihood from the "dropped out after the last purchase" branch.
    w = np.exp(dropped - total)
    v = 1 - w
    psi = special.digamma
    psi_r_x = psi(r + ux)[back]
    psi_b_x = psi(b + ux)
    psi_ab_x = psi(a + b + ux)
    log_alpha_t = np.log(alpha + data.age)
    log_alpha_tx = np.log(alpha + data.t_x)
    d_r = psi_r_x - psi(r) + np.log(alpha) - v * log_alpha_t - w * log_alpha_tx
    d_alpha = r / alpha - (r + x) * (v / (alpha + data.age) + w / (alpha + data.t_x))
    d_a_alive = (psi(a + b) - psi_ab_x)[back]
    d_b_alive = (psi_b_x - psi_ab_x - psi(b) + psi(a + b))[back]
    # psi(b + x - 1) = psi(b + x) - 1 / (b + x - 1); only used where x > 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        psi_b_x_1 = np.where(ux > 0, psi_b_x - 1 / (b + ux - 1), 0.0)
    d_a_dropped = np.where(data.repeat, 1 / a + d_a_alive, 0.0)
    d_b_dropped = np.where(data.repeat, (psi_b_x_1 - psi(b) + psi(a + b) - psi_ab_x)[back], 0.0)
    d_a = v * d_a_alive + w * d_a_dropped
    d_b = v * d_b_alive + w * d_b_dropped
    gradient = np.array(
        [float(np.sum(weights * d)) for d in (d_r, d_alpha, d_a, d_b)], dtype=np.float64
    )
    return value, gradient * params
