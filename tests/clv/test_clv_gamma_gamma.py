from __future__ import annotations

import pandas as pd
import pytest

from pilotage.clv import GammaGamma


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
