"""The learned conversion probability of prospects (scoring.md section 3).

Training is time-based. For a cutoff c, the snapshot of c holds every prospect at c
(created by c, not converted by c) with its features computed **as of c** from a source cut
at c (`SourceAsOf`: rows after c do not exist for the feature code), and its label: did it
convert in (c, c + W], W = `conversion_window_days`. The model learns on the snapshots of
the cutoff and of the months before it (every `step_days`, at most `max_snapshots`), and
is evaluated on the snapshot of the later holdout cutoff c + W, whose labels run to
c + 2W <= as_of: the holdout is entirely in the future of the training data.

Leakage guard: the features of the latest training snapshot are computed twice, from the
cut source and from the full source; any difference means the feature code reads rows
after its as_of, and training stops with `LeakageError` naming the columns.

The model is a logistic regression on one-hot categories and standardised numbers, with
Platt calibration fitted on out-of-fold scores (what scikit-learn's
`CalibratedClassifierCV(method="sigmoid", ensemble=False)` does), kept explicit because
the calibrated log-odds are then exactly linear in the features: each prediction is split
into per-feature contributions (a * w_j * (x_j - mean_j), summed over the one-hot columns
of a feature), from which the top positive and negative factors are taken.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from pilotage.contract.schema import INTERACTION_TYPES
from pilotage.engine.backends import Source
from pilotage.engine.conversions import conversions
from pilotage.engine.span import data_span
from pilotage.scoring.cut import SourceAsOf
from pilotage.scoring.features import InteractionSum, fields_expression

MIN_PROSPECTS = 200
MIN_CONVERSIONS = 30
MODEL_KIND = "conversion"
RECENT_HALF_LIFE_DAYS = 14.0
MISSING = "(none)"

CATEGORICAL_FEATURES: tuple[str, ...] = (
    "channel",
    "campaign_id",
    "owner_id",
    "industry",
    "job_title",
    "country",
    "stage",
)
BASE_NUMERIC_FEATURES: tuple[str, ...] = (
    "employees",
    "days_since_created",
    "days_since_last_interaction",
    "interactions_30d",
    "stage_index",
)


def feature_sums() -> list[InteractionSum]:
    """Per interaction type: how many up to as_of, and a recency-weighted count (each
    touch worth 0.5 ** (age_days / 14))."""
    sums: list[InteractionSum] = []
    for kind in INTERACTION_TYPES:
        sums.append(InteractionSum(f"count_{kind}", (kind,)))
        sums.append(InteractionSum(f"recent_{kind}", (kind,), half_life_days=RECENT_HALF_LIFE_DAYS))
    return sums


NUMERIC_FEATURES: tuple[str, ...] = BASE_NUMERIC_FEATURES + tuple(s.name for s in feature_sums())
FEATURE_COLUMNS: tuple[str, ...] = CATEGORICAL_FEATURES + NUMERIC_FEATURES

# (source, as_of, contacts or None) -> one row per contact: contact_id + FEATURE_COLUMNS.
FeatureBuilder = Callable[[Source, datetime], pd.DataFrame]


class TrainingRefused(ValueError):
    """Too little history to train (or no room for a holdout); the message says why."""


class LeakageError(ValueError):
    """A feature reads data after its as_of."""


def conversion_features(source: Source, as_of: datetime) -> pd.DataFrame:
    """The model's features of every contact as of `as_of` (engine-side)."""
    fields = fields_expression(source, as_of, sums=feature_sums())
    expression = fields.select("contact_id", *FEATURE_COLUMNS)
    frame: pd.DataFrame = source.execute(expression)
    frame["contact_id"] = frame["contact_id"].astype(str)
    return frame


def features_from_fields(values: Mapping[str, Any]) -> pd.DataFrame:
    """One contact's feature row from `features.fields_of_one(..., sums=feature_sums())`."""
    return pd.DataFrame([{name: values.get(name) for name in ("contact_id", *FEATURE_COLUMNS)}])


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Model inputs: categories as text (missing -> "(none)"), numbers log-scaled."""
    prepared = pd.DataFrame(index=frame.index)
    for name in CATEGORICAL_FEATURES:
        prepared[name] = (
            frame[name].astype("object").where(frame[name].notna(), MISSING).astype(str)
        )
    created = pd.to_numeric(frame["days_since_created"], errors="coerce").fillna(0.0).clip(lower=0)
    for name in NUMERIC_FEATURES:
        values = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        if name == "days_since_last_interaction":
            # Never touched: as old as the contact itself.
            values = values.fillna(created)
        if name == "stage_index":
            values = values.fillna(-1.0)
        else:
            values = pd.Series(np.log1p(values.fillna(0.0).clip(lower=0.0)), index=frame.index)
        prepared[name] = values
    prepared["employees_known"] = frame["employees"].notna().astype("float64")
    return prepared


PREPARED_NUMERIC: tuple[str, ...] = (*NUMERIC_FEATURES, "employees_known")


def _pipeline(c: float) -> Pipeline:
    encoder = ColumnTransformer(
        [
            (
                "category",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10),
                list(CATEGORICAL_FEATURES),
            ),
            ("number", StandardScaler(), list(PREPARED_NUMERIC)),
        ],
        sparse_threshold=0.0,
    )
    model = LogisticRegression(C=c, max_iter=2000)
    return Pipeline([("encode", encoder), ("model", model)])


@dataclass(frozen=True)
class Factor:
    feature: str
    value: Any
    effect: float  # on the log-odds

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "value": _plain(self.value),
            "effect": round(self.effect, 4),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass
class ConversionModel:
    """A fitted, calibrated conversion model (scikit-learn conventions: learned values end
    in `_`)."""

    c: float = 0.3
    folds: int = 5
    pipeline_: Pipeline | None = None
    platt_a_: float = 1.0
    platt_b_: float = 0.0
    mean_encoded_: NDArray[np.float64] | None = None
    feature_of_column_: list[str] = field(default_factory=list)

    def fit(self, frame: pd.DataFrame, label: NDArray[np.int64]) -> ConversionModel:
        # One BLAS thread: these matrices are small (tens of thousands x ~150), where
        # OpenBLAS' threads cost far more than they bring (15x slower on two busy cores).
        with threadpool_limits(limits=1):
            return self._fit(frame, label)

    def _fit(self, frame: pd.DataFrame, label: NDArray[np.int64]) -> ConversionModel:
        prepared = prepare(frame)
        folds = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=0)
        scores = cross_val_predict(
            _pipeline(self.c), prepared, label, cv=folds, method="decision_function"
        )
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(scores.reshape(-1, 1), label)
        self.platt_a_ = float(platt.coef_[0, 0])
        self.platt_b_ = float(platt.intercept_[0])
        self.pipeline_ = _pipeline(self.c).fit(prepared, label)
        encoded = self._encode(prepared)
        self.mean_encoded_ = encoded.mean(axis=0)
        names = list(self.pipeline_.named_steps["encode"].get_feature_names_out())
        self.feature_of_column_ = [_feature_of(name) for name in names]
        return self

    def _encode(self, prepared: pd.DataFrame) -> NDArray[np.float64]:
        assert self.pipeline_ is not None
        encoded = self.pipeline_.named_steps["encode"].transform(prepared)
        return np.asarray(encoded, dtype=np.float64)

    def log_odds(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        assert self.pipeline_ is not None, "fit the model first"
        with threadpool_limits(limits=1):
            raw = self.pipeline_.decision_function(prepare(frame))
        return np.asarray(self.platt_a_ * raw + self.platt_b_, dtype=np.float64)

    def predict_proba(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Calibrated probability of converting within W, one per row."""
        return 1.0 / (1.0 + np.exp(-self.log_odds(frame)))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per row and input feature, its part of the calibrated log-odds relative to the
        average training prospect (rows sum to log_odds - base_log_odds)."""
        assert self.pipeline_ is not None
        assert self.mean_encoded_ is not None
        encoded = self._encode(prepare(frame))
        coefficients = self.pipeline_.named_steps["model"].coef_[0]
        parts = (encoded - self.mean_encoded_) * coefficients * self.platt_a_
        columns = pd.DataFrame(parts, index=frame.index, columns=self.feature_of_column_)
        summed: pd.DataFrame = columns.T.groupby(level=0, sort=False).sum().T
        return summed

    @property
    def base_log_odds(self) -> float:
        assert self.pipeline_ is not None
        assert self.mean_encoded_ is not None
        model = self.pipeline_.named_steps["model"]
        raw = float(self.mean_encoded_ @ model.coef_[0] + model.intercept_[0])
        return self.platt_a_ * raw + self.platt_b_

    def factors(self, frame: pd.DataFrame, top: int = 3) -> list[tuple[list[Factor], list[Factor]]]:
        """Per row: its `top` positive and `top` negative factors, strongest first."""
        parts = self.contributions(frame)
        names = list(parts.columns)
        values = parts.to_numpy()
        result: list[tuple[list[Factor], list[Factor]]] = []
        for row_index, row in enumerate(values):
            order = np.argsort(row)
            source_row = frame.iloc[row_index]
            positive = [
                Factor(names[j], _feature_value(source_row, names[j]), float(row[j]))
                for j in order[::-1][:top]
                if row[j] > 1e-9
            ]
            negative = [
                Factor(names[j], _feature_value(source_row, names[j]), float(row[j]))
                for j in order[:top]
                if row[j] < -1e-9
            ]
            result.append((positive, negative))
        return result


def _feature_of(encoded_name: str) -> str:
    kind, _, rest = encoded_name.partition("__")
    if kind == "number":
        return "employees" if rest == "employees_known" else rest
    for name in sorted(CATEGORICAL_FEATURES, key=len, reverse=True):
        if rest == name or rest.startswith(name + "_"):
            return name
    return rest


def _feature_value(row: pd.Series, name: str) -> Any:
    value = row.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float | np.floating):
        return round(float(value), 2)
    return _plain(value)


# Training and evaluation.


@dataclass
class TrainedModel:
    """A trained conversion model with its evaluation report and identity."""

    model: ConversionModel
    version: str
    trained_at: datetime
    cutoff: datetime
    holdout_cutoff: datetime
    window_days: int
    report: dict[str, Any]
    source_description: str = ""
    kind: str = MODEL_KIND

    def predict(self, features: pd.DataFrame) -> NDArray[np.float64]:
        return self.model.predict_proba(features)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)
        return path

    def dumps(self) -> bytes:
        import io

        buffer = io.BytesIO()
        joblib.dump(self, buffer)
        return buffer.getvalue()

    @staticmethod
    def loads(data: bytes) -> TrainedModel:
        import io

        loaded = joblib.load(io.BytesIO(data))
        if not isinstance(loaded, TrainedModel):
            raise TypeError("not a Pilotage conversion model")
        return loaded

    @staticmethod
    def load(path: Path) -> TrainedModel:
        loaded = joblib.load(path)
        if not isinstance(loaded, TrainedModel):
            raise TypeError(f"{path}: not a Pilotage conversion model")
        return loaded


@dataclass(frozen=True)
class Snapshot:
    cutoff: datetime
    features: pd.DataFrame  # prospects at cutoff, FEATURE_COLUMNS
    label: NDArray[np.int64]


def _conversion_times(source: Source) -> pd.Series:
    frame = source.execute(conversions(source))
    series = pd.Series(
        pd.to_datetime(frame["converted_at"]).to_numpy(),
        index=frame["contact_id"].astype(str).to_numpy(),
    )
    return series


def snapshot(
    source: Source,
    cutoff: datetime,
    window_days: int,
    converted_at: pd.Series,
    builder: FeatureBuilder = conversion_features,
) -> Snapshot:
    """Prospects at `cutoff` with features as of it (cut source) and their label."""
    features = builder(SourceAsOf.of(source, cutoff), cutoff)
    converted = features["contact_id"].map(converted_at)
    at = pd.Timestamp(cutoff)
    prospect = converted.isna() | (converted > at)
    features = features[prospect.to_numpy()].reset_index(drop=True)
    converted = converted[prospect.to_numpy()].reset_index(drop=True)
    label = (converted.notna() & (converted <= at + pd.Timedelta(days=window_days))).to_numpy()
    return Snapshot(cutoff, features, label.astype(np.int64))


def check_no_leakage(source: Source, as_of: datetime, builder: FeatureBuilder) -> None:
    """Features as of `as_of` must be the same whether or not rows after it exist."""
    cut = builder(SourceAsOf.of(source, as_of), as_of).set_index("contact_id").sort_index()
    full = builder(source, as_of).set_index("contact_id").sort_index()
    full = full[full.index.isin(cut.index)]
    leaking = []
    for column in cut.columns:
        left = cut[column]
        right = full[column].reindex(left.index)
        same = (left == right) | (left.isna() & right.isna())
        if left.dtype.kind == "f" or right.dtype.kind == "f":
            numeric_left = pd.to_numeric(left, errors="coerce")
            numeric_right = pd.to_numeric(right, errors="coerce")
            same = same | np.isclose(numeric_left, numeric_right, rtol=1e-9, atol=1e-9)
        if not bool(same.all()):
            leaking.append(str(column))
    if len(full) != len(cut):
        leaking.append("(contacts created after as_of)")
    if leaking:
        raise LeakageError(
            f"features read data after their as_of ({as_of:%Y-%m-%d %H:%M}): " + ", ".join(leaking)
        )


def evaluation(probability: NDArray[np.float64], label: NDArray[np.int64]) -> dict[str, Any]:
    """ROC AUC, log loss, Brier score, lift and calibration by decile (decile 1 = the
    10% most likely), on one holdout."""
    n = len(label)
    rate = float(label.mean()) if n else float("nan")
    both = len(set(label.tolist())) == 2
    order = np.argsort(-probability, kind="stable")
    deciles: list[dict[str, Any]] = []
    for index, members in enumerate(np.array_split(order, 10), start=1):
        if len(members) == 0:
            continue
        predicted = float(probability[members].mean())
        observed = float(label[members].mean())
        deciles.append(
            {
                "decile": index,
                "prospects": len(members),
                "predicted": round(predicted, 4),
                "observed": round(observed, 4),
                "conversions": int(label[members].sum()),
                "lift": round(observed / rate, 3) if rate > 0 else None,
                "calibration_error": round(abs(predicted - observed), 4),
            }
        )
    return {
        "prospects": n,
        "conversions": int(label.sum()),
        "conversion_rate": round(rate, 4),
        "roc_auc": round(float(roc_auc_score(label, probability)), 4) if both else None,
        "log_loss": round(float(log_loss(label, probability, labels=[0, 1])), 4) if n else None,
        "brier_score": round(float(brier_score_loss(label, probability)), 4) if n else None,
        "deciles": deciles,
        "max_calibration_error": max(
            (float(d["calibration_error"]) for d in deciles), default=None
        ),
    }


def default_cutoff(source: Source, as_of: datetime | None = None) -> datetime:
    """as_of - 2W: the latest cutoff that leaves a full holdout after the training labels."""
    as_of = as_of or _latest(source)
    return as_of - timedelta(days=2 * source.settings.conversion_window_days)


def _latest(source: Source) -> datetime:
    latest = data_span(source)[1]
    if latest is None:
        raise TrainingRefused("the data holds no timestamp: nothing to learn from")
    return latest


def train(
    source: Source,
    cutoff: datetime | None = None,
    *,
    builder: FeatureBuilder = conversion_features,
    step_days: int = 30,
    max_snapshots: int = 12,
    rule_scores: Callable[[datetime, Sequence[str]], pd.Series] | None = None,
    c: float = 0.3,
) -> TrainedModel:
    """Train the conversion model on snapshots up to `cutoff` (default as_of - 2W) and
    evaluate it on the holdout snapshot at cutoff + W. `rule_scores(as_of, contact_ids)`,
    when given, adds the rule score's AUC on the same holdout to the report."""
    window = source.settings.conversion_window_days
    as_of = _latest(source)
    cutoff = cutoff or default_cutoff(source, as_of)
    holdout_cutoff = cutoff + timedelta(days=window)
    if holdout_cutoff + timedelta(days=window) > as_of:
        raise TrainingRefused(
            f"cutoff {cutoff:%Y-%m-%d} leaves no full holdout: the holdout's labels need "
            f"data up to {holdout_cutoff + timedelta(days=window):%Y-%m-%d} (cutoff + "
            f"2 x conversion_window_days), the data ends {as_of:%Y-%m-%d}; use a cutoff on "
            f"or before {as_of - timedelta(days=2 * window):%Y-%m-%d}"
        )
    check_no_leakage(source, cutoff, builder)
    converted_at = _conversion_times(source)
    earliest = data_span(source)[0] or cutoff
    snapshots = []
    for k in range(max_snapshots):
        moment = cutoff - timedelta(days=k * step_days)
        if moment <= earliest:
            break
        taken = snapshot(source, moment, window, converted_at, builder)
        if len(taken.features):
            snapshots.append(taken)
    features = (
        pd.concat([s.features for s in snapshots], ignore_index=True)
        if snapshots
        else pd.DataFrame(columns=["contact_id", *FEATURE_COLUMNS])
    )
    label = np.concatenate([s.label for s in snapshots]) if snapshots else np.zeros(0, np.int64)
    prospects = int(features["contact_id"].nunique())
    converters = int(features.loc[label == 1, "contact_id"].nunique())
    if prospects < MIN_PROSPECTS or converters < MIN_CONVERSIONS:
        raise TrainingRefused(
            f"too little history to train: {prospects} prospects and {converters} "
            f"conversions within {window} days in the training snapshots up to "
            f"{cutoff:%Y-%m-%d} (at least {MIN_PROSPECTS} prospects and {MIN_CONVERSIONS} "
            "conversions are needed); the rule score keeps serving"
        )
    model = ConversionModel(c=c).fit(features, label)
    holdout = snapshot(source, holdout_cutoff, window, converted_at, builder)
    probability = model.predict_proba(holdout.features) if len(holdout.features) else np.zeros(0)
    report: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "cutoff": cutoff.isoformat(),
        "holdout_cutoff": holdout_cutoff.isoformat(),
        "window_days": window,
        "training": {
            "snapshots": [s.cutoff.isoformat() for s in snapshots],
            "rows": len(label),
            "prospects": prospects,
            "conversions": converters,
            "positive_rows": int(label.sum()),
        },
        "holdout": evaluation(probability, holdout.label),
        "model": {"estimator": "logistic regression + Platt calibration", "C": c},
    }
    if rule_scores is not None and len(holdout.features):
        scores = rule_scores(holdout_cutoff, list(holdout.features["contact_id"]))
        values = scores.reindex(holdout.features["contact_id"]).fillna(0.0).to_numpy()
        if len(set(holdout.label.tolist())) == 2:
            report["holdout"]["rule_score_roc_auc"] = round(
                float(roc_auc_score(holdout.label, values)), 4
            )
    trained_at = datetime.now(UTC)
    digest = hashlib.sha1(repr(report).encode(), usedforsecurity=False).hexdigest()[:6]
    version = f"{trained_at:%Y%m%d%H%M%S}-{digest}"
    return TrainedModel(
        model=model,
        version=version,
        trained_at=trained_at,
        cutoff=cutoff,
        holdout_cutoff=holdout_cutoff,
        window_days=window,
        report=report,
        source_description=source.description,
    )


# Where trained models live on disk: <home>/models/conversion/<source key>/<version>.joblib


def source_key(description: str) -> str:
    return hashlib.sha1(description.encode(), usedforsecurity=False).hexdigest()[:12]


def models_dir(home: Path, description: str) -> Path:
    return home / "models" / MODEL_KIND / source_key(description)


def store_model(trained: TrainedModel, home: Path) -> Path:
    folder = models_dir(home, trained.source_description)
    path = trained.save(folder / f"{trained.version}.joblib")
    (folder / "latest").write_text(trained.version + "\n", encoding="utf-8")
    return path


def latest_model(home: Path, description: str) -> TrainedModel | None:
    folder = models_dir(home, description)
    pointer = folder / "latest"
    if not pointer.is_file():
        return None
    path = folder / f"{pointer.read_text(encoding='utf-8').strip()}.joblib"
    return TrainedModel.load(path) if path.is_file() else None
