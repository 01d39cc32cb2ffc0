"""Scoring every contact: rule score and grade, RFM, conversion probability, priority.

`score(source, model, as_of)` computes the whole base in the engine (one query for the
rule points and the fields RFM and priorities need), then RFM quintiles, the conversion
model's predictions and the priorities in numpy/pandas. `score_contact(...)` does the same
for one contact from its own rows, in plain Python (incremental rescoring in the CRM),
placing it on the RFM edges of the last batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from pilotage.contract.settings import Settings
from pilotage.engine.backends import Source
from pilotage.engine.periods import local_date
from pilotage.engine.span import data_span
from pilotage.scoring.cut import SourceAsOf
from pilotage.scoring.expressions import FieldType
from pilotage.scoring.features import InteractionSum, field_types, fields_of_one
from pilotage.scoring.model import ScoringModel, default_model
from pilotage.scoring.predictive import (
    TrainedModel,
    conversion_features,
    feature_sums,
    features_from_fields,
)
from pilotage.scoring.priority import customer_priority, prospect_priority
from pilotage.scoring.rfm import QuintileEdges, quintile_edges, rfm_scores, segment_of
from pilotage.scoring.rules import (
    fired_rules,
    group_points,
    interaction_sums,
    rule_frame,
    rule_values,
)

Language = Literal["en", "fr"]
TOUCHES_7D = InteractionSum("touches_7d", within_days=7.0)
CONTEXT_FIELDS = (
    "is_customer",
    "days_since_last_order",
    "days_since_last_interaction",
    "orders_count",
    "revenue_total",
    "touches_7d",
)
PriorityBasis = Literal["clv", "rfm"]
# Fewer customers than this: the CLV models are not fitted (their estimates would be
# noise) and customers are prioritised by RFM and recency.
MIN_CLV_CUSTOMERS = 100


class ScoringError(ValueError):
    """Scoring cannot run as asked (an empty source, a model that does not fit the data)."""


@dataclass
class ScoreResult:
    """Scores of every contact as of `as_of`. `frame` has one row per contact:
    contact_id, score, grade, the `group__i` and `rule__...` points, stage, is_customer,
    r, f, m, segment, conversion_probability, factors, predicted_clv, churn_risk (customers,
    when the CLV models could be fitted), priority, reason_en, reason_fr."""

    as_of: datetime
    model: ScoringModel
    frame: pd.DataFrame
    rfm_edges: QuintileEdges | None
    conversion_model_version: str | None = None
    priority_basis: PriorityBasis = "rfm"
    notes: list[str] = field(default_factory=list)
    # The fitted CLV models and the CLV percentiles, for rescoring one customer between
    # batches: {"params": {...}, "quantiles": [...]} (None when prioritised by RFM).
    clv_model: dict[str, Any] | None = None

    def rows(self, language: Language = "en") -> list[dict[str, Any]]:
        """interfaces.md's `score` rows."""
        records: list[dict[str, Any]] = self.frame.to_dict("records")  # type: ignore[assignment]
        return [self.row_document(row, language) for row in records]

    def row_document(self, row: Mapping[str, Any], language: Language = "en") -> dict[str, Any]:
        return row_document(self.model, row, language)

    def to_json(self, language: Language = "en") -> dict[str, Any]:
        return {
            # With its offset (UTC), as the attribution's: given back as --as-of, the same
            # instant (a time without offset is read in the company's zone).
            "as_of": self.as_of.replace(tzinfo=UTC).isoformat(),
            "model": self.model.name,
            "rows": self.rows(language),
        }


def _number(value: Any, digits: int = 2) -> float | int | None:
    if value is None:
        return None
    number = float(value)
    if math.isnan(number):
        return None
    rounded = round(number, digits)
    return int(rounded) if rounded.is_integer() else rounded


def _integer(value: Any) -> int | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def row_document(
    model: ScoringModel, row: Mapping[str, Any], language: Language = "en"
) -> dict[str, Any]:
    r = _integer(row.get("r"))
    rfm = None
    if r is not None:
        rfm = {
            "r": r,
            "f": _integer(row.get("f")),
            "m": _integer(row.get("m")),
            "segment": row.get("segment"),
        }
    grade = row.get("grade")
    return {
        "contact_id": str(row["contact_id"]),
        "score": _number(row["score"]),
        "grade": grade if isinstance(grade, str) else None,
        "groups": {name: _number(points) for name, points in group_points(model, row).items()},
        "rules": [
            {"group": fired.group, "rule": fired.rule, "points": _number(fired.points)}
            for fired in fired_rules(model, row)
        ],
        "rfm": rfm,
        "conversion_probability": _number(row.get("conversion_probability"), 4),
        "priority": _number(row.get("priority")),
        "reason": row.get("reason_fr" if language == "fr" else "reason_en"),
    }


def latest_instant(source: Source) -> datetime:
    latest = data_span(source)[1]
    if latest is None:
        raise ScoringError("the data holds no timestamp: nothing to score")
    return latest


def score(
    source: Source,
    model: ScoringModel | None = None,
    as_of: datetime | None = None,
    *,
    trained: TrainedModel | None = None,
    use_clv: bool = True,
) -> ScoreResult:
    """Score every contact created by `as_of` (default: the latest timestamp in the data),
    using only data up to `as_of`."""
    model = model or default_model()
    as_of = as_of or latest_instant(source)
    cut = SourceAsOf.of(source, as_of)
    types = field_types(source, model.field_names)
    model.check_fields(types)
    frame = rule_frame(
        cut, model, as_of, types, extra_fields=CONTEXT_FIELDS, extra_sums=[TOUCHES_7D]
    )
    notes: list[str] = []

    customers = frame["orders_count"].to_numpy() > 0
    rfm_input = pd.DataFrame(
        {
            "recency_days": frame.loc[customers, "days_since_last_order"].astype("float64"),
            "frequency": frame.loc[customers, "orders_count"].astype("float64"),
            "monetary": frame.loc[customers, "revenue_total"].astype("float64"),
        }
    )
    edges = quintile_edges(rfm_input) if len(rfm_input) else None
    scored = rfm_scores(rfm_input)
    frame["r"] = pd.Series(scored["r"], dtype="Int64")
    frame["f"] = pd.Series(scored["f"], dtype="Int64")
    frame["m"] = pd.Series(scored["m"], dtype="Int64")
    frame["segment"] = pd.Series(scored["segment"], dtype="object")

    frame["conversion_probability"] = np.nan
    frame["factors"] = None
    prospects = ~frame["is_customer"].astype(bool).to_numpy()
    if trained is not None and prospects.any():
        features = conversion_features(cut, as_of).set_index("contact_id")
        wanted = features.reindex(frame.loc[prospects, "contact_id"]).reset_index()
        frame.loc[prospects, "conversion_probability"] = trained.predict(wanted)
        frame.loc[prospects, "factors"] = pd.Series(
            [_factor_document(f) for f in trained.model.factors(wanted)],
            index=frame.index[prospects],
            dtype="object",
        )

    enough = int(customers.sum()) >= MIN_CLV_CUSTOMERS
    value = customer_value(source, as_of) if use_clv and enough else None
    basis: PriorityBasis = "clv" if value is not None else "rfm"
    if use_clv and value is None and customers.any():
        why = "could not be fitted" if enough else f"need {MIN_CLV_CUSTOMERS} customers"
        notes.append(f"CLV models {why}: customers are prioritised by RFM and recency")
    clv = value.customers if value is not None else None
    if clv is not None:
        found = clv.reindex(frame["contact_id"].astype(str))
        frame["predicted_clv"] = found["predicted_clv"].to_numpy()
        frame["churn_risk"] = found["churn_risk"].to_numpy()
    else:
        frame["predicted_clv"] = frame["churn_risk"] = np.nan
    _priorities(frame, model, clv, trained)
    return ScoreResult(
        as_of,
        model,
        frame,
        edges,
        trained.version if trained else None,
        basis,
        notes,
        {"params": value.params, "quantiles": value.quantiles} if value is not None else None,
    )


def _factor_document(factors: tuple[list[Any], list[Any]]) -> dict[str, list[dict[str, Any]]]:
    positive, negative = factors
    return {
        "positive": [f.to_dict() for f in positive],
        "negative": [f.to_dict() for f in negative],
    }


@dataclass(frozen=True)
class CustomerValue:
    """Each customer's predicted value and churn risk at `as_of` (scoring.md section 4):
    Pareto/NBD and Gamma-Gamma fitted in weeks on the paid orders up to `as_of`'s local
    date (Pareto/NBD rather than BG/NBD: see `pilotage.clv.analysis.FITTED`).

    `customers` is indexed by contact_id: p_alive, churn_risk = 1 - p_alive,
    predicted_clv (discounted margin over the next `clv_horizon_months`) and
    clv_percentile (rank among the customers, in (0, 1]). `params` are the fitted
    parameters, which `one_customer_value` applies to a single customer between batches.
    """

    as_of: datetime
    customers: pd.DataFrame
    params: dict[str, dict[str, float]]

    @property
    def quantiles(self) -> list[float]:
        """The CLV at each percentile 0..100 of the customers (`clv_percentile`)."""
        values = self.customers["predicted_clv"].dropna().to_numpy(dtype=np.float64)
        return [float(v) for v in np.quantile(values, np.linspace(0.0, 1.0, 101))]


def customer_value(source: Source, as_of: datetime) -> CustomerValue | None:
    """Fit the CLV models on the customers known at `as_of` and predict for each, or None
    when the base is too small (< MIN_CLV_CUSTOMERS) or the models cannot be fitted."""
    from pilotage.clv import clv_analysis

    try:
        result = clv_analysis(
            SourceAsOf.of(source, as_of),
            calibration_end=local_date(as_of, source.settings.timezone),
            unit="week",
            model="value",
            # kpis.md's paid orders (amount > 0), as the customers' other numbers count
            # them: a $0 order is no purchase, and a contact with only such orders is a
            # prospect, with no CLV. (The CDNOW benchmark counts them: `pilotage clv`.)
            include_zero_amount=False,
        )
    except Exception:  # a base too small or degenerate to fit: no predicted value
        return None
    customers = result.customers
    if len(customers) < MIN_CLV_CUSTOMERS or customers["clv"].isna().all():
        return None
    p_alive = customers["p_alive"].astype("float64")
    frame = pd.DataFrame(
        {
            "contact_id": customers["contact_id"].astype(str),
            "p_alive": p_alive,
            "churn_risk": 1.0 - p_alive,
            "predicted_clv": customers["clv"].astype("float64"),
            "clv_percentile": customers["clv"].rank(pct=True, method="max").astype("float64"),
        }
    )
    params = {name: dict(fitted.params) for name, fitted in result.models.items()}
    return CustomerValue(as_of, frame.set_index("contact_id"), params)


def one_customer_value(
    params: Mapping[str, Mapping[str, float]],
    clv_quantiles: Sequence[float],
    orders: Sequence[Mapping[str, Any]],
    *,
    as_of: datetime,
    settings: Settings,
) -> dict[str, float] | None:
    """One customer's p_alive, churn_risk, predicted_clv and clv_percentile from the
    models fitted by the last batch (`CustomerValue.params`), its own orders and the
    batch's CLV percentiles (`CustomerValue.quantiles`); None without a paid order."""
    from pilotage.clv import GammaGamma, ParetoNBD, customer_lifetime_value
    from pilotage.clv.summary import summary_of_one

    summary = summary_of_one(
        # Known at `as_of`, as the batch cuts them (`SourceAsOf`), not the whole local day.
        [order for order in orders if order["ordered_at"] <= as_of],
        calibration_end=local_date(as_of, settings.timezone),
        unit="week",
        timezone=settings.timezone,
        include_zero_amount=False,
    )
    if summary is None:
        return None
    x, t_x, age, m_x = ([value] for value in summary)
    transaction = ParetoNBD()
    transaction.params_ = dict(params["pareto_nbd"])
    spend = GammaGamma()
    spend.params_ = dict(params["gamma_gamma"])
    p_alive = float(transaction.conditional_probability_alive(x, t_x, age)[0])
    clv = float(
        customer_lifetime_value(
            transaction,
            spend,
            x,
            t_x,
            age,
            m_x,
            unit="week",
            horizon_months=settings.clv_horizon_months,
            discount_rate=settings.discount_rate,
            margin=settings.gross_margin,
        )[0]
    )
    return {
        "p_alive": p_alive,
        "churn_risk": 1.0 - p_alive,
        "predicted_clv": clv,
        "clv_percentile": clv_percentile(clv_quantiles, clv),
    }


def clv_percentile(quantiles: Sequence[float], clv: float) -> float:
    """The share of the batch's customers whose CLV is at most `clv`, read on its
    percentiles (`quantiles[i]` = the CLV at percentile i, 0..100), interpolated."""
    edges = np.asarray(quantiles, dtype=np.float64)
    if len(edges) < 2:
        return 1.0
    shares = np.linspace(0.0, 1.0, len(edges))
    # np.interp needs increasing x: equal percentiles (ties) keep the highest share.
    unique, last = np.unique(edges[::-1], return_index=True)
    return float(np.interp(clv, unique, shares[::-1][last], left=0.0, right=1.0))


def _priorities(
    frame: pd.DataFrame,
    model: ScoringModel,
    clv: pd.DataFrame | None,
    trained: TrainedModel | None,
) -> None:
    window = trained.window_days if trained else 0
    if clv is not None:
        clv_rows = clv.reindex(frame["contact_id"])
        p_alive = clv_rows["p_alive"].to_numpy()
        clv_pct = clv_rows["clv_percentile"].to_numpy()
    else:
        p_alive = clv_pct = np.full(len(frame), np.nan)
    values: list[float] = []
    reasons_en: list[str] = []
    reasons_fr: list[str] = []
    columns = [
        "is_customer",
        "score",
        "grade",
        "touches_7d",
        "days_since_last_interaction",
        "conversion_probability",
        "factors",
        "r",
        "f",
        "m",
        "segment",
        "days_since_last_order",
        "orders_count",
    ]
    for index, row in enumerate(frame[columns].itertuples(index=False, name=None)):
        (
            is_customer,
            points,
            grade,
            touches,
            since_touch,
            probability,
            factors,
            r,
            f,
            m,
            segment,
            since_order,
            orders,
        ) = row
        if is_customer:
            alive = p_alive[index]
            percentile = clv_pct[index]
            priority = customer_priority(
                r=_integer(r),
                f=_integer(f),
                m=_integer(m),
                segment=segment if isinstance(segment, str) else None,
                days_since_last_order=_float(since_order),
                orders_count=int(orders),
                clv_percentile=None if math.isnan(percentile) else float(percentile),
                p_alive=None if math.isnan(alive) else float(alive),
            )
        else:
            priority = prospect_priority(
                score=float(points),
                max_score=model.max_score,
                grade=grade if isinstance(grade, str) else None,
                touches_7d=int(round(touches)),
                days_since_last_interaction=_float(since_touch),
                probability=_float(probability),
                window_days=window,
                top_factor=_top_factor(factors),
            )
        values.append(priority.value)
        reasons_en.append(priority.reason_en)
        reasons_fr.append(priority.reason_fr)
    frame["priority"] = np.asarray(values, dtype=np.float64)
    frame["reason_en"] = pd.Series(reasons_en, index=frame.index, dtype="object")
    frame["reason_fr"] = pd.Series(reasons_fr, index=frame.index, dtype="object")


def _float(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _top_factor(factors: Any) -> tuple[str, Any] | None:
    if not isinstance(factors, dict) or not factors.get("positive"):
        return None
    first = factors["positive"][0]
    return str(first["feature"]), first["value"]


# One contact, in Python (the CRM's incremental rescoring).


def one_contact_sums(model: ScoringModel, with_features: bool) -> list[InteractionSum]:
    sums = [*interaction_sums(model), TOUCHES_7D]
    if with_features:
        sums += feature_sums()
    return sums


def score_contact(
    model: ScoringModel,
    contact: Mapping[str, Any],
    *,
    orders: Sequence[Mapping[str, Any]],
    subscriptions: Sequence[Mapping[str, Any]],
    interactions: Sequence[Mapping[str, Any]],
    stage_changes: Sequence[Mapping[str, Any]],
    as_of: datetime,
    stages: Sequence[str],
    types: Mapping[str, FieldType],
    attributes: Mapping[str, Any] | None = None,
    rfm_edges: QuintileEdges | None = None,
    trained: TrainedModel | None = None,
    clv_model: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """One contact's row, as in `ScoreResult.frame`. RFM places the customer on
    `rfm_edges` (the last batch's base; alone, it scores 5/5/5). With the last batch's
    `clv_model` (`ScoreResult.clv_model`) and the company `settings`, a customer gets its
    predicted CLV and churn risk from its own orders, and its priority weighs them as the
    batch does; without, its priority uses RFM and recency."""
    values = fields_of_one(
        contact,
        orders=orders,
        subscriptions=subscriptions,
        interactions=interactions,
        stage_changes=stage_changes,
        as_of=as_of,
        stages=stages,
        sums=one_contact_sums(model, trained is not None),
        attributes=attributes,
    )
    row = rule_values(model, values, types)
    for name in CONTEXT_FIELDS:
        row[name] = values.get(name)
    row["r"] = row["f"] = row["m"] = row["segment"] = None
    if values["orders_count"] > 0:
        recency = float(values["days_since_last_order"])
        frequency = float(values["orders_count"])
        monetary = float(values["revenue_total"])
        if rfm_edges is not None and rfm_edges.customers > 0:
            r, f, m = rfm_edges.scores(recency, frequency, monetary)
        else:
            r = f = m = 5
        row.update(r=r, f=f, m=m, segment=segment_of(r, f, m))
    row["conversion_probability"] = None
    row["factors"] = None
    if trained is not None and not values["is_customer"]:
        features = features_from_fields(values)
        row["conversion_probability"] = float(trained.predict(features)[0])
        row["factors"] = _factor_document(trained.model.factors(features)[0])
    value = None
    if values["is_customer"] and clv_model is not None and settings is not None:
        value = one_customer_value(
            clv_model["params"], clv_model["quantiles"], orders, as_of=as_of, settings=settings
        )
    row["predicted_clv"] = value["predicted_clv"] if value else None
    row["churn_risk"] = value["churn_risk"] if value else None
    if values["is_customer"]:
        priority = customer_priority(
            r=row["r"],
            f=row["f"],
            m=row["m"],
            segment=row["segment"],
            days_since_last_order=values["days_since_last_order"],
            orders_count=int(values["orders_count"]),
            clv_percentile=value["clv_percentile"] if value else None,
            p_alive=value["p_alive"] if value else None,
        )
    else:
        priority = prospect_priority(
            score=float(row["score"]),
            max_score=model.max_score,
            grade=row["grade"],
            touches_7d=int(round(values["touches_7d"])),
            days_since_last_interaction=values["days_since_last_interaction"],
            probability=row["conversion_probability"],
            window_days=trained.window_days if trained else 0,
            top_factor=_top_factor(row["factors"]),
        )
    row["priority"] = priority.value
    row["reason_en"] = priority.reason_en
    row["reason_fr"] = priority.reason_fr
    return row
