"""The `clv` operation: summary, model fits and per-customer predictions for a source.

Used by the `pilotage clv` command and the Python API; returns typed results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from pilotage.clv.bgnbd import BetaGeo
from pilotage.clv.gamma_gamma import GammaGamma
from pilotage.clv.pareto_nbd import ParetoNBD
from pilotage.clv.report import calibration_holdout_report
from pilotage.clv.summary import Unit, customer_summary
from pilotage.clv.value import TransactionModel, customer_lifetime_value

if TYPE_CHECKING:
    from pilotage.engine.backends import Source

ModelChoice = Literal["bgnbd", "pareto_nbd", "gamma_gamma", "all", "value"]
MODEL_CHOICES: tuple[str, ...] = ("bgnbd", "pareto_nbd", "gamma_gamma", "all")
# The models each choice fits. "value" (not offered on the command line) is what the CRM
# stores per customer: Pareto/NBD for P(alive) and expected purchases, Gamma-Gamma for
# value. (BG/NBD gives P(alive) = 1 to every customer without a repeat purchase, however
# long ago it bought: a churn risk of 0 for the one-time buyers a rep should call.)
FITTED: dict[str, frozenset[str]] = {
    "bgnbd": frozenset({"bgnbd"}),
    "pareto_nbd": frozenset({"pareto_nbd"}),
    "gamma_gamma": frozenset({"gamma_gamma"}),
    "all": frozenset({"bgnbd", "pareto_nbd", "gamma_gamma"}),
    "value": frozenset({"pareto_nbd", "gamma_gamma"}),
}
DEFAULT_HORIZON: dict[str, float] = {"week": 52.0, "day": 365.0}
CUSTOMER_COLUMNS = (
    "contact_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_purchases",
    "expected_value",
    "clv",
)


@dataclass(frozen=True)
class FittedModel:
    name: str
    params: dict[str, float]
    standard_errors: dict[str, float]
    log_likelihood: float
    customers: int


@dataclass(frozen=True)
class ClvResult:
    unit: Unit
    calibration_end: date
    horizon: float
    # The model whose P(alive) and expected purchases fill the customer rows (BG/NBD when
    # both transaction models are fitted), or None when only Gamma-Gamma was asked for.
    transaction_model: str | None
    models: dict[str, FittedModel]
    customers: pd.DataFrame
    holdout_report: pd.DataFrame | None

    def to_json(self) -> dict[str, Any]:
        """interfaces.md's `clv` JSON shape."""
        models: dict[str, Any] = {}
        for name, fitted in self.models.items():
            entry: dict[str, Any] = {"params": {k: _number(v) for k, v in fitted.params.items()}}
            if name != "gamma_gamma":
                entry["log_likelihood"] = _number(fitted.log_likelihood)
            models[name] = entry
        rows = [
            {
                column: _json_value(value)
                for column, value in zip(CUSTOMER_COLUMNS, row, strict=True)
            }
            for row in self.customers[list(CUSTOMER_COLUMNS)].itertuples(index=False, name=None)
        ]
        return {
            "unit": self.unit,
            "calibration_end": self.calibration_end.isoformat(),
            "models": models,
            "customers": rows,
        }


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _number(float(value))
    return value


def clv_analysis(
    source: Source,
    *,
    calibration_end: date,
    unit: Unit = "week",
    model: ModelChoice = "all",
    horizon: float | None = None,
    holdout_end: date | None = None,
    include_zero_amount: bool = True,
) -> ClvResult:
    """Fit the asked models on the source's customers and predict for each of them.

    Customer rows: p_alive and expected_purchases (over `horizon` units, default 52 weeks or
    365 days) from BG/NBD (or Pareto/NBD when only it is asked), expected_value from
    Gamma-Gamma, and clv over the `clv_horizon_months` setting when both kinds of model are
    fitted; values a model that was not asked for would give are null."""
    if model not in FITTED:
        raise ValueError(f"model: {model!r} is not one of {MODEL_CHOICES}")
    fitted_names = FITTED[model]
    horizon = DEFAULT_HORIZON[unit] if horizon is None else float(horizon)
    if horizon <= 0:
        raise ValueError("horizon: must be positive")
    settings = source.settings
    summary = customer_summary(
        source,
        calibration_end=calibration_end,
        unit=unit,
        holdout_end=holdout_end,
        include_zero_amount=include_zero_amount,
    )
    if len(summary) == 0:
        raise ValueError(f"no customer with a paid order on or before {calibration_end}")
    x = summary["frequency"].to_numpy(dtype=np.float64)
    t_x = summary["recency"].to_numpy(dtype=np.float64)
    age = summary["T"].to_numpy(dtype=np.float64)
    m_x = summary["monetary_value"].to_numpy(dtype=np.float64)
    # First-time buyers of the calibration end date have T = 0 and no information yet: they
    # are predicted, not fitted on.
    fit_rows = age > 0
    models: dict[str, FittedModel] = {}
    transaction: TransactionModel | None = None
    transaction_name: str | None = None
    for name, estimator in (("pareto_nbd", ParetoNBD()), ("bgnbd", BetaGeo())):
        if name not in fitted_names:
            continue
        estimator.fit(x[fit_rows], t_x[fit_rows], age[fit_rows])
        models[name] = FittedModel(
            name,
            estimator.params_,
            estimator.standard_errors_,
            estimator.log_likelihood_,
            estimator.n_customers_,
        )
        transaction, transaction_name = estimator, name
    value_model: GammaGamma | None = None
    if "gamma_gamma" in fitted_names:
        # Repeat buyers whose repeat days are all worth 0 (possible only when zero amounts
        # are counted) carry no information on spend: Gamma-Gamma needs m_x > 0.
        valued = m_x > 0
        value_model = GammaGamma().fit(x[valued], m_x[valued])
        models["gamma_gamma"] = FittedModel(
            "gamma_gamma",
            value_model.params_,
            value_model.standard_errors_,
            value_model.log_likelihood_,
            value_model.n_customers_,
        )
    missing = np.full(len(summary), np.nan)
    p_alive = missing
    expected_purchases = missing
    expected_value = missing
    clv = missing
    if transaction is not None:
        p_alive = transaction.conditional_probability_alive(x, t_x, age)
        expected_purchases = transaction.conditional_expected_purchases(horizon, x, t_x, age)
    if value_model is not None:
        expected_value = value_model.conditional_expected_average_value(x, m_x)
    if transaction is not None and value_model is not None:
        clv = customer_lifetime_value(
            transaction,
            value_model,
            x,
            t_x,
            age,
            m_x,
            unit=unit,
            horizon_months=settings.clv_horizon_months,
            discount_rate=settings.discount_rate,
            margin=settings.gross_margin,
        )
    customers = summary[["contact_id", "frequency", "recency", "T", "monetary_value"]].copy()
    customers["p_alive"] = p_alive
    customers["expected_purchases"] = expected_purchases
    customers["expected_value"] = expected_value
    customers["clv"] = clv
    report = None
    if holdout_end is not None and transaction is not None:
        report = calibration_holdout_report(transaction, summary)
    # Models are listed in the JSON order of interfaces.md.
    ordered: dict[str, FittedModel] = {
        name: models[name] for name in ("bgnbd", "pareto_nbd", "gamma_gamma") if name in models
    }
    return ClvResult(
        unit=unit,
        calibration_end=calibration_end,
        horizon=horizon,
        transaction_model=transaction_name,
        models=ordered,
        customers=customers,
        holdout_report=report,
    )
