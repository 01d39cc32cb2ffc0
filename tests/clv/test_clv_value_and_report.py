from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from pilotage.clv import (
    GammaGamma,
    calibration_holdout_html,
    calibration_holdout_report,
    customer_lifetime_value,
)


class ConstantRate:
    """A transaction model with 2 purchases per unit for everyone, alive for sure."""

    def conditional_expected_purchases(
        self,
        t: float | np.ndarray,
        frequency: Sequence[float] | np.ndarray,
        recency: Sequence[float] | np.ndarray,
        T: Sequence[float] | np.ndarray,
    ) -> np.ndarray:
        return 2.0 * np.asarray(t) * np.ones(len(frequency)) + np.asarray(frequency) * 0

    def conditional_probability_alive(
        self,
        frequency: Sequence[float] | np.ndarray,
        recency: Sequence[float] | np.ndarray,
        T: Sequence[float] | np.ndarray,
    ) -> np.ndarray:
        return np.ones(len(frequency))


def test_clv_by_hand() -> None:
    value = GammaGamma()
    value.params_ = {"p": 6.0, "q": 4.0, "gamma": 15.0}
    clv = customer_lifetime_value(
        ConstantRate(),
        value,
        [2, 0],
        [5.0, 0.0],
        [10.0, 10.0],
        [20.0, 0.0],
        unit="day",
        horizon_months=2,
        discount_rate=0.01,
        margin=0.5,
    )
    # A month is 365.25 / 12 = 30.4375 days: 60.875 purchases a month. Expected values:
    # 22 (x = 2, m_x = 20) and 30 (x = 0: the population mean), see test_clv_gamma_gamma.
    # CLV = 60.875 * value * 0.5 * (1 / 1.01 + 1 / 1.01^2).
    discount = 1 / 1.01 + 1 / 1.01**2
    np.testing.assert_allclose(clv, [60.875 * 22 * 0.5 * discount, 60.875 * 30 * 0.5 * discount])
    weekly = customer_lifetime_value(
        ConstantRate(), value, [2], [5.0], [10.0], [20.0], unit="week", horizon_months=2
    )
    # In weeks a month is 30.4375 / 7 units: 8.696... purchases, margin 1.
    assert weekly[0] == pytest.approx(2 * 30.4375 / 7 * 22 * discount)


def test_holdout_report_buckets() -> None:
    summary = pd.DataFrame(
        {
            "frequency": [0, 0, 1, 9, 12],
            "recency": [0.0, 0.0, 3.0, 9.0, 10.0],
            "T": [10.0] * 5,
            "frequency_holdout": [0, 1, 2, 5, 7],
            "duration_holdout": [4.0] * 5,
        }
    )
    report = calibration_holdout_report(ConstantRate(), summary, max_frequency=7)
    assert report["frequency"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert report["customers"].tolist() == [2, 1, 0, 0, 0, 0, 0, 2]
    # Bucket 0: actual (0 + 1) / 2; everyone is predicted 2 per unit * 4 units = 8.
    assert report.loc[0, "actual"] == 0.5
    assert report.loc[7, "actual"] == 6.0
    assert report.loc[0, "predicted"] == 8.0
    assert np.isnan(report.loc[2, "actual"])
    html = calibration_holdout_html(report, title="BG/NBD <check>")
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html
    assert "</html>" in html
    assert "BG/NBD &lt;check&gt;" in html
    assert "<script" not in html
    with pytest.raises(ValueError, match="holdout"):
        calibration_holdout_report(ConstantRate(), summary.drop(columns="duration_holdout"))
