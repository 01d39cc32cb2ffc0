"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005; Colombo & Jiang 1999).

A customer's purchase values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers,
so the mean m_x of their x repeat purchase values has the density
    f(m_x | x) = G(px+q) / (G(px) G(q)) gamma^q m_x^(px-1) x^(px) / (gamma + x m_x)^(px+q).
Fitted on repeat buyers only (x > 0), with m_x their mean repeat purchase-day value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import special

from pilotage.clv._fitting import FloatArray, as_float_array, fit_log_parameters

PARAMETER_NAMES = ("p", "q", "gamma")


class GammaGamma:
    """The Gamma-Gamma spend model: `GammaGamma().fit(x, m_x).params_`.

    `initial_params` (p, q, gamma) is where the fit starts; by default, from the moments of
    ln m_x (see `_log_moment_start`), or (1, 1, 1) where they say nothing sensible."""

    def __init__(
        self, penalizer: float = 0.0, initial_params: Sequence[float] | None = None
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
        likelihood = _Likelihood(x, m)
        initial = self.initial_params
        if initial is None:
            initial = _log_moment_start(m, likelihood) or (1.0, 1.0, 1.0)
        fit = fit_log_parameters(
            PARAMETER_NAMES,
            lambda p: -likelihood.at(p)[0],
            initial,
            gradient=lambda p: -likelihood.at(p)[1],
            value_and_gradient=lambda p: _negative(likelihood.at(p)[:2]),
            analytic_hessian=lambda p: -likelihood.at(p)[2],
            penalizer=self.penalizer,
        )
        self.params_ = fit.params
        self.log_likelihood_ = fit.log_likelihood
        self.standard_errors_ = fit.standard_errors
        self.covariance_ = fit.covariance
        self.n_customers_ = len(x)
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
    """Each customer's log-likelihood, term by term as in the density above (the reference
    that `_Likelihood` regroups)."""
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


# Integer frequencies up to this are grouped with bincount (linear); others with unique.
_BINCOUNT_LIMIT = 1_000_000


def _distinct_counts(x: FloatArray) -> tuple[FloatArray, FloatArray, npt.NDArray[np.intp]]:
    """The distinct values of x, how many customers have each, and each customer's group
    (an index into the distinct values)."""
    if x.max() <= _BINCOUNT_LIMIT and np.all(x == np.floor(x)):
        whole = x.astype(np.intp)
        counts = np.bincount(whole)
        present = counts > 0
        group_of_value = np.cumsum(present) - 1
        distinct = np.flatnonzero(present)
        return (
            distinct.astype(np.float64),
            counts[distinct].astype(np.float64),
            group_of_value[whole],
        )
    values, groups, value_counts = np.unique(x, return_inverse=True, return_counts=True)
    return values.astype(np.float64), value_counts.astype(np.float64), groups.ravel()


class _Likelihood:
    """The log-likelihood of the repeat buyers with its analytic gradient and Hessian.

    Summed over customers, with s = x m_x the customer's total repeat spend,
        ln L = sum_x n_x [lnG(px + q) - lnG(px)] - n lnG(q) + n q ln gamma
               + p sum x ln s - sum ln m_x - sum (px + q) ln(gamma + s),
    where n_x customers made x repeat purchases. The special functions therefore depend on
    the distinct frequencies only (a few dozen), and each customer costs one logarithm and
    one division per evaluation: no gammaln or digamma per customer, and no grouping of
    identical (x, m_x) rows (continuous spend rarely repeats; grouping cost more than it saved).
    """

    def __init__(self, x: FloatArray, m: FloatArray) -> None:
        self.x = x
        self.spend = x * m
        self.n = float(len(x))
        self.distinct_x, self.counts, self.groups = _distinct_counts(x)
        # The parts of p sum x ln s - sum ln m_x that do not depend on the parameters.
        self.sum_x_log_spend = float(np.sum(x * np.log(self.spend)))
        self.sum_log_m = float(np.sum(np.log(m)))
        self._point: bytes | None = None
        self._result: tuple[float, FloatArray, FloatArray] = (0.0, np.empty(3), np.empty((3, 3)))

    def at(self, log_params: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """ln L and its gradient and Hessian with respect to the log parameters.

        The optimiser asks for the value, the gradient and the Hessian at the same point in
        separate calls: the last point is remembered."""
        key = np.asarray(log_params, dtype=np.float64).tobytes()
        if key != self._point:
            self._result = self._evaluate(np.exp(log_params))
            self._point = key
        return self._result

    def _evaluate(self, params: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        p, q, gamma = (float(v) for v in params)
        x, n, u, counts = self.x, self.n, self.distinct_x, self.counts
        pu = p * u
        shifted = gamma + self.spend
        log_shifted = np.log(shifted)
        inverse = 1.0 / shifted
        inverse_squared = inverse * inverse
        sum_log = float(np.sum(log_shifted))
        sum_x_log = float(np.sum(x * log_shifted))
        sum_inverse = float(np.sum(inverse))
        sum_x_inverse = float(np.sum(x * inverse))
        sum_inverse_squared = float(np.sum(inverse_squared))
        sum_x_inverse_squared = float(np.sum(x * inverse_squared))

        value = (
            float(np.sum(counts * (special.gammaln(pu + q) - special.gammaln(pu))))
            - n * float(special.gammaln(q))
            + n * q * np.log(gamma)
            + p * self.sum_x_log_spend
            - self.sum_log_m
            - p * sum_x_log
            - q * sum_log
        )
        psi_shifted = special.digamma(pu + q)
        d_p = float(np.sum(counts * u * (psi_shifted - special.digamma(pu))))
        d_p += self.sum_x_log_spend - sum_x_log
        d_q = float(np.sum(counts * psi_shifted)) - n * float(special.digamma(q))
        d_q += n * np.log(gamma) - sum_log
        d_gamma = n * q / gamma - p * sum_x_inverse - q * sum_inverse
        gradient = np.array([d_p, d_q, d_gamma])

        # trigamma(z) = zeta(2, z), cheaper than polygamma(1, z).
        trigamma_shifted = special.zeta(2.0, pu + q)
        d_pp = float(np.sum(counts * u * u * (trigamma_shifted - special.zeta(2.0, pu))))
        d_pq = float(np.sum(counts * u * trigamma_shifted))
        d_qq = float(np.sum(counts * trigamma_shifted)) - n * float(special.zeta(2.0, q))
        d_p_gamma = -sum_x_inverse
        d_q_gamma = n / gamma - sum_inverse
        d_gamma_gamma = -n * q / gamma**2 + p * sum_x_inverse_squared + q * sum_inverse_squared
        natural_hessian = np.array(
            [
                [d_pp, d_pq, d_p_gamma],
                [d_pq, d_qq, d_q_gamma],
                [d_p_gamma, d_q_gamma, d_gamma_gamma],
            ]
        )
        # Chain rule to the log parameters: d/dlog t = t d/dt, so the Hessian gains the
        # gradient on its diagonal.
        log_gradient = gradient * params
        log_hessian = natural_hessian * np.outer(params, params) + np.diag(log_gradient)
        if not np.isfinite(value):
            value = -np.inf
        return float(value), log_gradient, log_hessian


def _log_moment_start(m: FloatArray, likelihood: _Likelihood) -> tuple[float, float, float] | None:
    """A starting point from the moments of ln m_x, or None where they say nothing sensible.

    Given x, m_x is Gamma(px, x nu) with nu ~ Gamma(q, gamma), so
        E[ln m_x | x] = psi(px) - ln x + ln gamma - psi(q),
        Var[ln m_x | x] = psi'(px) + psi'(q) ~ 1 / (px) + psi'(q):
    the variance of ln m_x within each frequency, regressed on 1/x (weighted by degrees of
    freedom), gives 1/p as its slope and psi'(q) ~ 1/(q - 1/2) as its intercept; the mean then
    gives gamma. Newton steps from there need about half the iterations they need from
    (1, 1, 1) (they converge quadratically only once close)."""
    u, counts, groups = likelihood.distinct_x, likelihood.counts, likelihood.groups
    log_m = np.log(m)
    centred = log_m - log_m.mean()  # less cancellation in the sums of squares
    sums = np.bincount(groups, weights=centred, minlength=len(u))
    squares = np.bincount(groups, weights=centred * centred, minlength=len(u))
    several = counts >= 2
    if np.count_nonzero(several) < 2:
        return None
    freedom = counts[several] - 1
    variance = (squares[several] - sums[several] ** 2 / counts[several]) / freedom
    inverse_x = 1 / u[several]
    mean_inverse_x = np.average(inverse_x, weights=freedom)
    mean_variance = np.average(variance, weights=freedom)
    spread = float(np.sum(freedom * (inverse_x - mean_inverse_x) ** 2))
    if spread <= 0:
        return None
    slope = float(np.sum(freedom * (inverse_x - mean_inverse_x) * (variance - mean_variance)))
    slope /= spread
    intercept = float(mean_variance - slope * mean_inverse_x)
    if not (slope > 0 and intercept > 0):
        return None
    p, q = 1 / slope, 1 / intercept + 0.5
    mean_log_x_psi = float(np.sum(counts * (np.log(u) - special.digamma(p * u)))) / likelihood.n
    gamma = float(np.exp(log_m.mean() + mean_log_x_psi + special.digamma(q)))
    if not (1e-3 < p < 1e3 and 1e-3 < q < 1e3 and 0 < gamma < np.inf):
        return None
    return p, q, gamma


def _negative(value_and_gradient: tuple[float, FloatArray]) -> tuple[float, FloatArray]:
    value, gradient = value_and_gradient
    return -value, -gradient
