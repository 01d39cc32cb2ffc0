from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from pilotage.clv import BetaGeo
from pilotage.clv.bgnbd import _Data, _gradient, _log_likelihood


def _model(r: float, alpha: float, a: float, b: float) -> BetaGeo:
    model = BetaGeo()
    model.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
    return model


def test_published_cdnow_fit(cdnow_summary: pd.DataFrame) -> None:
    """Fader, Hardie & Lee (2005): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL -9582.4."""
    s = cdnow_summary
    model = BetaGeo().fit(s["frequency"], s["recency"], s["T"])
    assert model is not None
    assert model.n_customers_ == 2357
    params = model.params_
    assert round(params["r"], 3) == 0.243
    assert round(params["alpha"], 3) == 4.414
    assert round(params["a"], 3) == 0.793
    assert round(params["b"], 3) == 2.426
    assert round(model.log_likelihood_, 1) == -9582.4
    # Standard errors from the inverse Hessian (lifetimes and the BTYD package agree).
    errors = model.standard_errors_
    assert errors["r"] == pytest.approx(0.0126, abs=2e-4)
    assert errors["alpha"] == pytest.approx(0.378, abs=2e-3)
    assert errors["a"] == pytest.approx(0.186, abs=2e-3)
    assert errors["b"] == pytest.approx(0.705, abs=5e-3)


def test_p_alive_is_one_without_repeat_purchase() -> None:
    # In BG/NBD a customer can only drop out right after a purchase.
    model = _model(0.243, 4.414, 0.793, 2.426)
    assert model.conditional_probability_alive([0, 0], [0, 0], [10, 40]).tolist() == [1.0, 1.0]


def test_p_alive_by_hand() -> None:
    # r = 1, alpha = 1, a = 1, b = 2, x = 1, t_x = 1, T = 3: odds of having dropped out
    # = a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x) = 1/2 * (4/2)^2 = 2,
    # so P(alive) = 1 / (1 + 2) = 1/3.
    model = _model(1.0, 1.0, 1.0, 2.0)
    assert model.conditional_probability_alive([1], [1], [3])[0] == pytest.approx(1 / 3)


def test_expected_purchases_against_direct_integration() -> None:
    # E[X(t)] = E_p[(1/p)(1 - (alpha / (alpha + p t))^r)], p ~ Beta(a, b), integrated
    # numerically (independent of the hypergeometric closed form).
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    model = _model(r, alpha, a, b)
    for t in (1.0, 10.0, 52.0):
        direct, _ = integrate.quad(
            lambda p, t=t: stats.beta.pdf(p, a, b) / p * (1 - (alpha / (alpha + p * t)) ** r),
            0,
            1,
        )
        assert model.expected_purchases_population(t) == pytest.approx(direct, rel=1e-7)


def test_conditional_expectation_starts_at_the_posterior_rate() -> None:
    # E[Y(t) | ...] ~ P(alive) * E[lambda | x, T] * t for small t, E[lambda] = (r+x)/(alpha+T).
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    model = _model(r, alpha, a, b)
    x, t_x, age = np.array([0.0, 2, 7]), np.array([0.0, 30.43, 35.0]), np.array([38.86] * 3)
    t = 1e-6
    slope = model.conditional_expected_purchases(t, x, t_x, age) / t
    expected = model.conditional_probability_alive(x, t_x, age) * (r + x) / (alpha + age)
    np.testing.assert_allclose(slope, expected, rtol=1e-5)
    assert model.conditional_expected_purchases(0.0, x, t_x, age).tolist() == [0.0, 0.0, 0.0]


def test_analytic_gradient_matches_finite_differences() -> None:
    x = np.array([0.0, 1, 3, 10])
    t_x = np.array([0.0, 5, 20, 30])
    age = np.array([30.0, 30, 35, 31])
    weights = np.array([3.0, 1, 2, 1])
    log_params = np.log([0.5, 3.0, 0.8, 2.5])

    def total(p: np.ndarray) -> float:
        return float(np.dot(weights, _log_likelihood(np.exp(p), x, t_x, age)))

    numeric = [(total(log_params + h) - total(log_params - h)) / 2e-6 for h in np.eye(4) * 1e-6]
    value, gradient = _gradient(np.exp(log_params), _Data(x, t_x, age, weights))
    assert value == pytest.approx(total(log_params))
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6)


def test_refuses_inconsistent_summaries() -> None:
    with pytest.raises(ValueError, match="recency"):
        BetaGeo().fit([1], [5.0], [3.0])
    with pytest.raises(ValueError, match="frequency"):
        BetaGeo().fit([-1], [0.0], [3.0])
    with pytest.raises(RuntimeError, match="not fitted"):
        BetaGeo().conditional_probability_alive([0], [0], [1])


def test_predictions_stay_finite_for_heavy_buyers() -> None:
    # The textbook form overflows (2F1(r+x, b+x; a+b+x-1; z) for x = 1000); the Euler form
    # used instead keeps E[Y(t)] finite and, for customers who just bought (t_x = T),
    # growing with x. (With t_x = 38 and T = 39, x = 1000 is all but surely dead: a silent
    # week at 26 purchases a week.)
    model = _model(0.243, 4.414, 0.793, 2.426)
    x = np.array([10.0, 200.0, 1000.0])
    expected = model.conditional_expected_purchases(
        156.0, x, np.array([39.0] * 3), np.array([39.0] * 3)
    )
    assert np.all(np.isfinite(expected))
    assert np.all(np.diff(expected) > 0)
