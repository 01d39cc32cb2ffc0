"""The conversion model: leakage guard, refusal on small data, and its quality on the
generated company (beats the rule score, calibrated on a later holdout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pilotage.cli import main
from pilotage.contract.reader import read_folder
from pilotage.demo.generator import generate_company
from pilotage.scoring import LeakageError, train
from pilotage.scoring.predictive import conversion_features
from pilotage.scoring.predictive import train as train_conversion


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("company")
    generate_company(folder, contacts=5000, seed=7)
    return folder


@pytest.fixture(scope="module")
def trained(company):
    return train(read_folder(company))


def test_model_beats_the_rule_score_and_is_calibrated(trained):
    holdout = trained.report["holdout"]
    assert holdout["roc_auc"] > holdout["rule_score_roc_auc"]
    assert holdout["roc_auc"] > 0.85
    # Calibration error per decile (each with > 300 prospects) under 0.05.
    assert all(d["prospects"] > 300 for d in holdout["deciles"])
    assert holdout["max_calibration_error"] < 0.05
    # Overall, predicted and observed conversions agree within a third.
    predicted = sum(d["predicted"] * d["prospects"] for d in holdout["deciles"])
    assert predicted == pytest.approx(holdout["conversions"], rel=0.35)


def test_factors_explain_the_log_odds_exactly(trained, company):
    source = read_folder(company)
    features = conversion_features(source, trained.holdout_cutoff).head(50)
    model = trained.model
    parts = model.contributions(features).to_numpy().sum(axis=1)
    np.testing.assert_allclose(parts + model.base_log_odds, model.log_odds(features), atol=1e-9)
    positive, negative = model.factors(features.head(1))[0]
    assert all(f.effect > 0 for f in positive)
    assert all(f.effect < 0 for f in negative)


def test_a_feature_that_looks_after_the_cutoff_is_refused(company):
    source = read_folder(company)

    def leaky(source, as_of):
        frame = conversion_features(source, as_of)
        orders = source.table("orders")
        # Every order ever, not only those up to as_of: the future leaks in.
        counts = source.execute(orders.group_by("contact_id").aggregate(n=orders.count()))
        frame["orders_ever"] = frame["contact_id"].map(
            dict(zip(counts["contact_id"], counts["n"], strict=True))
        )
        return frame

    with pytest.raises(LeakageError, match="orders_ever"):
        train_conversion(source, builder=leaky)


def test_too_little_history_is_refused(tmp_path, capsys):
    generate_company(tmp_path / "small", contacts=150, seed=3)
    assert main(["train", "--data", str(tmp_path / "small")]) == 1
    error = capsys.readouterr().err
    assert "too little history to train: " in error
    assert "(at least 200 prospects and 30 conversions are needed)" in error
    assert "the rule score keeps serving" in error
    # And the rule score still serves.
    assert main(["score", "--data", str(tmp_path / "small"), "--format", "csv"]) == 0
