from __future__ import annotations

import numpy as np
import pytest

from pilotage.clv import ShiftedBetaGeometric

# Fader & Hardie (2007), "How to project customer retention": survival (%) of cohorts of
# 1,000 customers over 7 years.
REGULAR = [100, 63.1, 46.8, 38.2, 32.6, 28.9, 26.2, 24.1]
HIGH_END = [100, 86.9, 74.3, 65.3, 59.3, 55.1, 51.7, 49.1]


@pytest.mark.parametrize(
    ("survival", "alpha", "beta", "log_likelihood"),
    [(REGULAR, 0.704, 1.182, -1680.3), (HIGH_END, 0.668, 3.806, -1611.2)],
)
def test_published_cohorts(
    survival: list[float], alpha: float, beta: float, log_likelihood: float
) -> None:
    model = ShiftedBetaGeometric().fit_percentages(survival, cohort_size=1000)
    assert round(model.params_["alpha"], 3) == alpha
    assert round(model.params_["beta"], 3) == beta
    assert round(model.log_likelihood_, 1) == log_likelihood
    # Projected survival fits the observed years closely and keeps falling, ever slower.
    projected = model.survival(np.arange(0, 13))
    np.testing.assert_allclose(projected[:8] * 100, survival, atol=2.0)
    assert np.all(np.diff(projected) < 0)
    retention = model.retention_rate(np.arange(1, 13))
    assert np.all(np.diff(retention) > 0)
    np.testing.assert_allclose(projected[1:] / projected[:-1], retention)


def test_by_hand() -> None:
    model = ShiftedBetaGeometric()
    model.params_ = {"alpha": 1.0, "beta": 1.0}
    # alpha = beta = 1 (theta uniform): S(t) = B(1, 1 + t) / B(1, 1) = 1 / (1 + t),
    # P(T = t) = B(2, t) / B(1, 1) = 1 / (t (t + 1)), r(t) = t / (t + 1).
    np.testing.assert_allclose(model.survival([0, 1, 3]), [1, 1 / 2, 1 / 4])
    np.testing.assert_allclose(model.churn_probability([1, 2]), [1 / 2, 1 / 6])
    np.testing.assert_allclose(model.retention_rate([1, 2]), [1 / 2, 2 / 3])


def test_refuses_growing_cohorts() -> None:
    with pytest.raises(ValueError, match="never increase"):
        ShiftedBetaGeometric().fit([100, 80, 90])
