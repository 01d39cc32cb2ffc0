from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from pilotage.clv import ConvergenceError, GammaGamma
from pilotage.clv.gamma_gamma import (
    _distinct_counts,
    _Likelihood,
    _log_likelihood,
    _log_moment_start,
)


def test_published_cdnow_fit(cdnow_summary: pd.DataFrame) -> None:
    """Fader, Hardie & Lee (2005), on the 946 repeat buyers: p = 6.25, q = 3.74, gamma = 15.44.

    m_x comes unrounded from the raw purchases; the published csv's 2-decimal zbar gives
    gamma = 15.448 instead."""
    s = cdnow_summary
    model = GammaGamma().fit(s["frequency"], s["monetary_value"])
    assert model.n_customers_ == 946
    assert round(model.params_["p"], 2) == 6.25
    assert round(model.params_["q"], 2) == 3.74
    assert round(model.params_["gamma"], 2) == 15.44
    # Standard errors from the inverse Hessian: lifetimes 0.11.3's GammaGammaFitter (its
    # Hessian by automatic differentiation) gives 1.19006, 0.290133 and 4.15942.
    errors = model.standard_errors_
    assert errors["p"] == pytest.approx(1.19006, rel=1e-5)
    assert errors["q"] == pytest.approx(0.290133, rel=1e-5)
    assert errors["gamma"] == pytest.approx(4.15942, rel=1e-5)
    assert model.log_likelihood_ == pytest.approx(-4055.9177, abs=1e-4)


def test_fit_ends_at_the_maximum(cdnow_summary: pd.DataFrame) -> None:
    """The fit stops once the gradient of -ln L in the log parameters, divided by |ln L| at
    the start (close to ln L = -4056 here), is below 1e-9: BFGS's tolerance before, stricter
    than lifetimes' (1e-7 on the mean over customers). There the curvature is that of a
    maximum."""
    s = cdnow_summary[cdnow_summary["frequency"] > 0]
    x, m = s["frequency"].to_numpy(), s["monetary_value"].to_numpy()
    model = GammaGamma().fit(x, m)
    log_params = np.log(list(model.params_.values()))
    _, gradient, hessian = _Likelihood(x, m).at(log_params)
    assert np.max(np.abs(gradient)) < 2e-9 * abs(model.log_likelihood_)
    assert np.all(np.linalg.eigvalsh(-hessian) > 0)


def test_penalized_fit_matches_lifetimes(cdnow_summary: pd.DataFrame) -> None:
    """lifetimes adds its penalizer to the mean negative log-likelihood, Pilotage to the
    total: lifetimes' penalizer_coef = 0.01 on the 946 repeat buyers is Pilotage's 9.46.
    lifetimes 0.11.3 gives p = 4.10922, q = 0.968393, gamma (its v) = 3.78077."""
    s = cdnow_summary
    model = GammaGamma(penalizer=0.01 * 946).fit(s["frequency"], s["monetary_value"])
    assert model.params_["p"] == pytest.approx(4.10922, rel=1e-5)
    assert model.params_["q"] == pytest.approx(0.968393, rel=1e-5)
    assert model.params_["gamma"] == pytest.approx(3.78077, rel=1e-5)


def test_fit_from_a_far_start_and_with_fractional_frequencies() -> None:
    """Newton steps from far away, and frequencies that are not whole numbers (grouped by
    np.unique instead of bincount), reach the optimum a generic optimiser finds on the
    per-customer formula."""
    rng = np.random.default_rng(3)
    x = rng.integers(1, 30, 2000) + rng.choice([0.0, 0.5], 2000)
    nu = rng.gamma(3.0, 1 / 20.0, 2000)
    m = rng.gamma(4.0 * x, 1 / (x * nu))
    model = GammaGamma(initial_params=(50.0, 0.05, 500.0)).fit(x, m)
    reference = optimize.minimize(
        lambda p: -float(np.sum(_log_likelihood(np.exp(p), x, m))),
        np.log([1.0, 1.0, 1.0]),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 10_000},
    )
    expected = np.exp(reference.x)
    np.testing.assert_allclose(list(model.params_.values()), expected, rtol=1e-5)


def test_analytic_gradient_and_hessian_match_finite_differences() -> None:
    x = np.array([1.0, 1, 2, 5, 5, 12])
    m = np.array([20.0, 35, 12.5, 40, 18, 27])
    likelihood = _Likelihood(x, m)
    log_params = np.log([3.0, 2.5, 11.0])
    step = 1e-5
    numeric_gradient = [
        (likelihood.at(log_params + h)[0] - likelihood.at(log_params - h)[0]) / (2 * step)
        for h in np.eye(3) * step
    ]
    numeric_hessian = np.array(
        [
            (likelihood.at(log_params + h)[1] - likelihood.at(log_params - h)[1]) / (2 * step)
            for h in np.eye(3) * step
        ]
    )
    value, gradient, hessian = likelihood.at(log_params)
    np.testing.assert_allclose(gradient, numeric_gradient, rtol=1e-6)
    np.testing.assert_allclose(hessian, numeric_hessian, rtol=1e-6)
    np.testing.assert_allclose(hessian, hessian.T)


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(1, 200), st.floats(0.01, 1e4, allow_nan=False, allow_infinity=False)),
        min_size=1,
        max_size=30,
    ),
    log_params=st.tuples(*[st.floats(-3.0, 4.0)] * 3),
)
def test_regrouped_likelihood_is_the_sum_over_customers(
    rows: list[tuple[int, float]], log_params: tuple[float, float, float]
) -> None:
    """Evaluating the special functions once per distinct x loses nothing."""
    x = np.array([row[0] for row in rows], dtype=np.float64)
    m = np.array([row[1] for row in rows])
    per_customer = float(np.sum(_log_likelihood(np.exp(np.array(log_params)), x, m)))
    value = _Likelihood(x, m).at(np.array(log_params))[0]
    assert value == pytest.approx(per_customer, rel=1e-9, abs=1e-7)


def test_distinct_counts_of_whole_and_fractional_frequencies() -> None:
    whole, counts, groups = _distinct_counts(np.array([3.0, 1, 3, 7, 1, 3]))
    assert whole.tolist() == [1.0, 3.0, 7.0]
    assert counts.tolist() == [2.0, 3.0, 1.0]
    assert groups.tolist() == [1, 0, 1, 2, 0, 1]
    fractional, counts, groups = _distinct_counts(np.array([0.5, 2.0, 0.5]))
    assert fractional.tolist() == [0.5, 2.0]
    assert counts.tolist() == [2.0, 1.0]
    assert groups.tolist() == [0, 1, 0]


def test_moment_start_is_near_the_truth_on_simulated_spend() -> None:
    # 20,000 customers from p = 6, q = 4, gamma = 15: the start is within 15% of the truth
    # (the maximum-likelihood estimate then takes a few Newton steps), and data with a
    # single frequency leave p and q unidentified by the moments: no start.
    rng = np.random.default_rng(11)
    x = rng.integers(1, 10, 20_000).astype(np.float64)
    m = rng.gamma(6.0 * x, 1 / (x * rng.gamma(4.0, 1 / 15.0, 20_000)))
    start = _log_moment_start(m, _Likelihood(x, m))
    assert start is not None
    np.testing.assert_allclose(start, [6.0, 4.0, 15.0], rtol=0.15)
    ones = np.ones(100)
    assert _log_moment_start(m[:100], _Likelihood(ones, m[:100])) is None


def test_expected_average_value_by_hand() -> None:
    model = GammaGamma()
    model.params_ = {"p": 6.0, "q": 4.0, "gamma": 15.0}
    # x = 2, m_x = 20: p (gamma + x m_x) / (p x + q - 1) = 6 * 55 / 15 = 22;
    # x = 0: the population mean p gamma / (q - 1) = 90 / 3 = 30.
    assert model.conditional_expected_average_value([2, 0], [20.0, 0.0]).tolist() == [22.0, 30.0]
    assert model.population_average_value() == 30.0


def test_needs_repeat_buyers_with_positive_values() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        GammaGamma().fit([0, 0, 1], [0.0, 0.0, 10.0])
    with pytest.raises(ValueError, match="> 0"):
        GammaGamma().fit([1, 2, 3], [10.0, 0.0, 5.0])


def test_no_maximum_is_an_error_not_an_estimate() -> None:
    # Three customers whose likelihood keeps rising as p -> infinity and gamma -> 0: the
    # Newton steps end where the gradient vanishes, but the curvature there says it is no
    # maximum.
    with pytest.raises(ConvergenceError, match="no maximum"):
        GammaGamma().fit([1, 1, 2], [5.0, 50.0, 7.0])
