"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), in the form of Fader & Hardie (2005).

While alive a customer buys as a Poisson process of rate lambda ~ Gamma(r, alpha); their
lifetime is exponential with rate mu ~ Gamma(s, beta). The likelihood is
    L = G(r+x) alpha^r beta^s / G(r) * [ (alpha+T)^-(r+x) (beta+T)^-s
                                          + s / (r+s+x) * (F(t_x) - F(T)) ],
with F from `pilotage.clv._special` (a Gauss hypergeometric function), computed in log space.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import special

from pilotage.clv._fitting import (
    FloatArray,
    MaximumLikelihoodFit,
    as_float_array,
    check_rfm,
    compress_rows,
    fit_log_parameters,
    warm_start_rows,
)
from pilotage.clv._special import log1mexp, log_hyp2f1_c_a1

PARAMETER_NAMES = ("r", "alpha", "s", "beta")


class ParetoNBD:
    """The Pareto/NBD model, scikit-learn style: `ParetoNBD().fit(x, t_x, T).params_`."""

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
    ) -> ParetoNBD:
        x = as_float_array(frequency, "frequency")
        t_x = as_float_array(recency, "recency")
        age = as_float_array(T, "T")
        check_rfm(x, t_x, age)
        (x, t_x, age), weights = compress_rows(x, t_x, age)
        initial = list(self.initial_params)
        subset = warm_start_rows(len(x))
        if subset is not None:
            warm = _fit(
                x[subset], t_x[subset], age[subset], weights[subset], initial, self.penalizer, False
            )
            initial = list(warm.params.values())
        fit = _fit(x, t_x, age, weights, initial, self.penalizer, True)
        self.params_ = fit.params
        self.log_likelihood_ = fit.log_likelihood
        self.standard_errors_ = fit.standard_errors
        self.covariance_ = fit.covariance
        self.n_customers_ = int(weights.sum())
        return self

    def _values(self) -> FloatArray:
        try:
            params = self.params_
        except AttributeError:
            raise RuntimeError("ParetoNBD is not fitted yet: call fit() first") from None
        return np.array([params[name] for name in PARAMETER_NAMES], dtype=np.float64)

    def log_likelihood(
        self,
        frequency: Sequence[float] | FloatArray,
        recency: Sequence[float] | FloatArray,
        T: Sequence[float] | FloatArray,
    ) -> FloatArray:
        """Each customer's log-likelihood under the fitted parameters."""
        x, t_x, age = _arrays(frequency, recency, T)
        return _log_likelihood(self._values(), x, t_x, age)

    def conditional_probability_alive(
        self,
        frequency: Sequence[float] | FloatArray,
        recency: Sequence[float] | FloatArray,
        T: Sequence[float] | FloatArray,
    ) -> FloatArray:
        """P(alive | x, t_x, T): the share of the likelihood from "still alive at T"."""
        x, t_x, age = _arrays(frequency, recency, T)
        alive, dead = _branches(self._values(), x, t_x, age)
        return np.asarray(np.exp(alive - np.logaddexp(alive, dead)), dtype=np.float64)

    def conditional_expected_purchases(
        self,
        t: float | FloatArray,
        frequency: Sequence[float] | FloatArray,
        recency: Sequence[float] | FloatArray,
        T: Sequence[float] | FloatArray,
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] = (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]
        * P(alive | x, t_x, T)  (Fader, Hardie & Lee 2005, "RFM and CLV", eq. 22)."""
        r, alpha, s, beta = self._values()
        x, t_x, age = _arrays(frequency, recency, T)
        t = np.asarray(t, dtype=np.float64)
        log_growth = np.log(beta + age + t) - np.log(beta + age)
        integral = _growth_integral(s, log_growth)
        rate = (r + x) / (alpha + age) * (beta + age)
        return np.asarray(
            rate * integral * self.conditional_probability_alive(x, t_x, age), dtype=np.float64
        )

    def expected_purchases_population(self, t: float | FloatArray) -> FloatArray:
        """E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]."""
        r, alpha, s, beta = self._values()
        t = np.asarray(t, dtype=np.float64)
        log_growth = np.log(beta + t) - np.log(beta)
        integral = _growth_integral(s, log_growth)
        return np.asarray(r / alpha * beta * integral, dtype=np.float64)


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


def _growth_integral(s: float, log_growth: FloatArray) -> FloatArray:
    """(1 - e^{-(s-1) g}) / (s - 1), which tends to g as s -> 1 (expm1 keeps it exact)."""
    if abs(s - 1) < 1e-12:
        return np.asarray(log_growth, dtype=np.float64)
    return np.asarray(-np.expm1(-(s - 1) * log_growth) / (s - 1), dtype=np.float64)


def _log_f(params: FloatArray, x: FloatArray, t: FloatArray) -> FloatArray:
    """log F(t), F(t) = 2F1(r+s+x, b'; r+s+x+1; |alpha-beta|/(m+t)) / (m+t)^(r+s+x)."""
    r, alpha, s, beta = params
    big = max(alpha, beta)
    shape = r + s + x
    second = np.full(np.shape(x), s + 1.0) if alpha >= beta else r + x  # b' of the note
    z = abs(alpha - beta) / (big + t)
    return np.asarray(log_hyp2f1_c_a1(shape, second, z) - shape * np.log(big + t), dtype=np.float64)


def _fit(
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    weights: FloatArray,
    initial: Sequence[float],
    penalizer: float,
    with_standard_errors: bool,
) -> MaximumLikelihoodFit:
    # The hypergeometric terms depend on (x, t_x) and (x, T) only, which repeat a lot
    # (every one-time buyer has t_x = 0, cohorts share T): evaluate them once per pair.
    pairs = (_Pairs(x, t_x), _Pairs(x, age))
    return fit_log_parameters(
        PARAMETER_NAMES,
        lambda p: -float(np.sum(weights * _log_likelihood(np.exp(p), x, t_x, age, pairs))),
        initial,
        penalizer=penalizer,
        with_standard_errors=with_standard_errors,
    )


class _Pairs:
    """The distinct (x, t) pairs of a summary and where each customer's pair is."""

    def __init__(self, x: FloatArray, t: FloatArray) -> None:
        unique, inverse = np.unique(np.column_stack((x, t)), axis=0, return_inverse=True)
        self.x = np.ascontiguousarray(unique[:, 0])
        self.t = np.ascontiguousarray(unique[:, 1])
        self.inverse = inverse.reshape(-1)

    def log_f(self, params: FloatArray) -> FloatArray:
        return _log_f(params, self.x, self.t)[self.inverse]


def _branches(
    params: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    pairs: tuple[_Pairs, _Pairs] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """log of the two terms in the bracket: alive at T, and died between t_x and T."""
    r, alpha, s, beta = params
    alive = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    if pairs is None:
        log_f_tx = _log_f(params, x, t_x)
        log_f_t = _log_f(params, x, age)
    else:
        log_f_tx = pairs[0].log_f(params)
        log_f_t = pairs[1].log_f(params)
    # F is decreasing, F(t_x) >= F(T); equal (dead branch empty) when t_x == T.
    difference = np.minimum(log_f_t - log_f_tx, 0.0)
    dead = np.log(s) - np.log(r + s + x) + log_f_tx + log1mexp(difference)
    return alive, dead


def _log_likelihood(
    params: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    pairs: tuple[_Pairs, _Pairs] | None = None,
) -> FloatArray:
    r, alpha, s, beta = params
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive, dead = _branches(params, x, t_x, age, pairs)
    return np.asarray(common + np.logaddexp(alive, dead), dtype=np.float64)
