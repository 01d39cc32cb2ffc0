"""Special functions the likelihoods need, in log space.

Pareto/NBD's likelihood needs F(t) = 2F1(a, b; a + 1; z(t)) / (m + t)^a with a = r + s + x,
z(t) = |alpha - beta| / (m + t), m = max(alpha, beta) (Fader & Hardie 2005, "A note on
deriving the Pareto/NBD model"). Its integral form,
    F(t) = a * integral_t^inf (alpha + u)^-(r + x) (beta + u)^-(s + 1) du,
bounds the hypergeometric factor between 1 and ((m + t) / (min + t))^a, so it can overflow
a double for large x even when F(t) itself is representable. We therefore evaluate
log 2F1 with scipy's hyp2f1 where it is finite, and elsewhere by its power series summed in
log space, whose terms a / (a + n) * (b)_n / n! * z^n are all positive (no cancellation).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special

FloatArray = npt.NDArray[np.float64]

_SERIES_CHUNK = 4096
_SERIES_MAX_TERMS = 2_000_000


def _log_series(a: float, b: float, z: float) -> float:
    """log of sum_n a / (a + n) * (b)_n / n! * z^n, for z in [0, 1)."""
    if z == 0.0:
        return 0.0
    log_z = np.log(z)
    total = -np.inf
    start = 0
    log_gamma_b = special.gammaln(b)
    while start < _SERIES_MAX_TERMS:
        n = np.arange(start, start + _SERIES_CHUNK, dtype=np.float64)
        log_terms = (
            np.log(a)
            - np.log(a + n)
            + special.gammaln(b + n)
            - log_gamma_b
            - special.gammaln(n + 1)
            + n * log_z
        )
        total = float(np.logaddexp(total, special.logsumexp(log_terms)))
        # Past the largest term the ratio of successive terms is below 1 and tends to z:
        # stop once the chunk's last term no longer changes the sum.
        last_ratio = (a + n[-1]) / (a + n[-1] + 1) * (b + n[-1]) / (n[-1] + 1) * z
        if last_ratio < 1 and log_terms[-1] - np.log1p(-min(last_ratio, 1 - 1e-16)) < total - 40:
            return total
        start += _SERIES_CHUNK
    raise FloatingPointError(f"2F1({a}, {b}; {a + 1}; {z}) did not converge")


def log_hyp2f1_c_a1(a: FloatArray, b: FloatArray, z: FloatArray) -> FloatArray:
    """log 2F1(a, b; a + 1; z) elementwise, for a > 0, b > 0, 0 <= z < 1."""
    with np.errstate(all="ignore"):
        value = special.hyp2f1(a, b, a + 1, z)
        result = np.log(value)
    bad = ~np.isfinite(result) | ~(value >= 1.0)  # the series starts at 1, terms >= 0
    if np.any(bad):
        result = np.array(result, dtype=np.float64, copy=True)
        for i in np.flatnonzero(bad):
            result[i] = _log_series(float(a[i]), float(b[i]), float(z[i]))
    return np.asarray(result, dtype=np.float64)


def log1mexp(x: FloatArray) -> FloatArray:
    """log(1 - exp(x)) for x <= 0, accurate for x near 0 and for x very negative."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.asarray(
            np.where(x > -np.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x))),
            dtype=np.float64,
        )
