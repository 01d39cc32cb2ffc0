from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from pilotage.clv import ConvergenceError, ParetoNBD
from pilotage.clv._special import _log_series, log_hyp2f1_c_a1
from pilotage.clv.pareto_nbd import _log_likelihood


def _model(r: float, alpha: float, s: float, beta: float) -> ParetoNBD:
    model = ParetoNBD()
    model.params_ = {"r": r, "alpha": alpha, "s": s, "beta": beta}
    return model


def test_published_cdnow_fit(cdnow_summary: pd.DataFrame) -> None:
    """Fader, Hardie & Lee (2005): r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669,
    LL -9595.0."""
    s = cdnow_summary
    model = ParetoNBD().fit(s["frequency"], s["recency"], s["T"])
    params = model.params_
    assert round(params["r"], 3) == 0.553
    assert round(params["alpha"], 3) == pytest.approx(10.578, abs=1.5e-3)
    assert round(params["s"], 3) == 0.606
    # beta is the loosest parameter (its standard error is 6): 3 significant digits.
    assert params["beta"] == pytest.approx(11.669, abs=5e-3)
    assert round(model.log_likelihood_, 1) == -9595.0
    assert model.standard_errors_["beta"] == pytest.approx(6.2, abs=0.1)


def _likelihood_by_quadrature(
    params: tuple[float, float, float, float], x: float, t_x: float, age: float
) -> float:
    """Integrate the individual likelihood over lambda ~ Gamma(r, alpha), mu ~ Gamma(s, beta):
    L(lambda, mu) = lambda^x mu / (lambda + mu) e^{-(lambda+mu) t_x}
                    + lambda^(x+1) / (lambda + mu) e^{-(lambda+mu) T}."""
    r, alpha, s, beta = params

    def log_gamma_pdf(value: float, shape: float, rate: float) -> float:
        return (
            shape * math.log(rate)
            + (shape - 1) * math.log(value)
            - rate * value
            - math.lgamma(shape)
        )

    def integrand(mu: float, lam: float) -> float:
        if lam <= 0 or mu <= 0:
            return 0.0
        individual = lam**x * mu / (lam + mu) * math.exp(-(lam + mu) * t_x) + lam ** (x + 1) / (
            lam + mu
        ) * math.exp(-(lam + mu) * age)
        return individual * math.exp(log_gamma_pdf(lam, r, alpha) + log_gamma_pdf(mu, s, beta))

    value, _ = integrate.dblquad(integrand, 0, np.inf, 0, np.inf, epsabs=1e-14, epsrel=1e-9)
    return float(value)


@pytest.mark.parametrize(
    ("params", "customer"),
    [
        ((0.553, 10.578, 0.606, 11.669), (0, 0.0, 38.86)),  # alpha < beta
        ((0.553, 10.578, 0.606, 11.669), (3, 20.0, 38.86)),
        ((1.2, 20.0, 0.8, 5.0), (2, 10.0, 30.0)),  # alpha > beta
        ((1.2, 20.0, 0.8, 5.0), (1, 30.0, 30.0)),  # t_x = T: the dead branch is empty
    ],
)
def test_likelihood_against_quadrature(
    params: tuple[float, float, float, float], customer: tuple[float, float, float]
) -> None:
    x, t_x, age = customer
    mine = _log_likelihood(np.array(params), np.array([x]), np.array([t_x]), np.array([age]))[0]
    assert mine == pytest.approx(np.log(_likelihood_by_quadrature(params, x, t_x, age)), abs=1e-6)


def test_log_hyp2f1_matches_its_series_and_survives_overflow() -> None:
    a = np.array([1.5, 3.0, 20.0, 0.7])
    b = np.array([1.6, 0.5, 12.0, 2.0])
    z = np.array([0.1, 0.5, 0.9, 0.99])
    series = [
        _log_series(float(ai), float(bi), float(zi)) for ai, bi, zi in zip(a, b, z, strict=True)
    ]
    np.testing.assert_allclose(log_hyp2f1_c_a1(a, b, z), series, rtol=1e-10)
    # 2F1(600, 700; 601; 0.995) is about 1e1600: far past a double, fine as a logarithm.
    huge = log_hyp2f1_c_a1(np.array([600.0]), np.array([700.0]), np.array([0.995]))
    assert np.isfinite(huge[0])
    assert huge[0] > 709
    assert huge[0] == pytest.approx(_log_series(600.0, 700.0, 0.995), rel=1e-12)


def test_population_expectation_by_hand() -> None:
    # r = 1, alpha = 1, s = 2, beta = 1: E[X(t)] = r beta / (alpha (s - 1))
    # * (1 - (beta / (beta + t))^(s - 1)) = 1 - 1 / (1 + t); at t = 1: 1/2.
    assert _model(1.0, 1.0, 2.0, 1.0).expected_purchases_population(1.0) == pytest.approx(0.5)
    # s = 1 is the limit r beta / alpha * ln((beta + t) / beta) = ln 2.
    assert _model(1.0, 1.0, 1.0, 1.0).expected_purchases_population(1.0) == pytest.approx(np.log(2))


def test_p_alive_of_a_one_time_buyer_falls_with_time() -> None:
    model = _model(0.553, 10.578, 0.606, 11.669)
    p_alive = model.conditional_probability_alive([0, 0, 0], [0, 0, 0], [1.0, 20.0, 38.86])
    assert 1 > p_alive[0] > p_alive[1] > p_alive[2] > 0
    # Buying recently raises it: same x and T, later last purchase.
    later = model.conditional_probability_alive([2, 2], [5.0, 35.0], [38.86, 38.86])
    assert later[1] > later[0]


# The 45 customers of a generated 300-contact company (seed 11, weeks): too few and too
# regular for Pareto/NBD, whose likelihood keeps rising as the dropout parameters run off.
NO_MAXIMUM = pd.DataFrame(
    {
        "frequency": [0, 7, 0, 0, 0, 0, 1, 0, 2, 1, 0, 0, 0, 1, 0, 4, 0, 0, 1, 0, 1, 2, 0]
        + [0, 1, 4, 1, 1, 2, 3, 5, 3, 0, 4, 0, 1, 0, 3, 1, 0, 2, 0, 1, 1, 2],
        "recency": [0.0, 22.5714, 0.0, 0.0, 0.0, 0.0, 2.1429, 0.0, 6.1429, 4.4286, 0.0]
        + [0.0, 0.0, 1.4286, 0.0, 36.8571, 0.0, 0.0, 1.0, 0.0, 35.4286, 9.5714, 0.0, 0.0]
        + [14.8571, 36.7143, 8.0, 22.8571, 5.2857, 4.1429, 31.2857, 10.2857, 0.0, 14.7143]
        + [0.0, 12.2857, 0.0, 28.5714, 6.7143, 0.0, 21.0, 0.0, 18.1429, 31.2857, 27.5714],
        "T": [9.2857, 25.0, 12.5714, 11.0, 25.4286, 60.7143, 16.0, 45.2857, 31.0, 11.7143]
        + [76.0, 16.7143, 29.5714, 63.0, 2.7143, 38.2857, 8.1429, 0.2857, 2.0, 2.4286]
        + [37.2857, 14.5714, 4.2857, 32.5714, 41.1429, 50.4286, 39.8571, 76.2857, 71.5714]
        + [14.4286, 46.8571, 16.8571, 35.7143, 63.7143, 10.2857, 46.5714, 7.0, 40.0]
        + [33.2857, 5.2857, 75.5714, 7.1429, 28.2857, 37.4286, 64.1429],
    }
)


def test_a_likelihood_without_maximum_is_refused_not_searched_for_ever() -> None:
    """Unbounded, the search ran its parameters off to infinity, where each evaluation
    takes the slow series: many minutes for 45 customers (the engine's predicted CLV, and
    the test of every engine, waited on it). Within bounds it stops and says why; the
    engine then has no predicted value for that base."""
    with pytest.raises(ConvergenceError, match="ran off to 0 or infinity"):
        ParetoNBD().fit(NO_MAXIMUM["frequency"], NO_MAXIMUM["recency"], NO_MAXIMUM["T"])
