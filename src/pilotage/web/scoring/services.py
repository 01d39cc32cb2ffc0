"""Writes of the scoring app: rescoring one contact, a batch, saving models.

- `contact_rescore(contact_id=...)`: one contact at once, in plain Python from its own rows
  (a few indexed queries, no engine), placed on the RFM edges of the last batch. Call it
  after a web/API write of an interaction, a stage change or an order.
- `scores_refresh(everyone=False)`: the whole base in the analytical engine, reading the
  CRM database in place; stores a new score for the contacts whose data changed since
  their last score (a fingerprint of their rows) and those never scored, or for everyone.
  Call it after an import (`folder_import`) or on a schedule. When it stores scores, it
  makes cached KPI results stale (`data_changed`): the team's expected wins read them.
  `contact_rescore` leaves that to its caller, which has its own write to announce.
- `scoring_model_save(...)`, `conversion_model_store(...)`: the models in use.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from django.db import connection, transaction
from django.utils import timezone

from pilotage.contract.settings import Settings
from pilotage.engine.backends import Source, from_database_url
from pilotage.scoring.expressions import FieldType
from pilotage.scoring.features import BASE_FIELDS, fields_of_one
from pilotage.scoring.fingerprint import fingerprint_of_one, fingerprints
from pilotage.scoring.model import ScoringModel, default_model, parse_model
from pilotage.scoring.predictive import TrainedModel
from pilotage.scoring.rfm import QuintileEdges
from pilotage.scoring.rules import interaction_sums, rule_values
from pilotage.scoring.scores import ScoreResult, row_document, score, score_contact
from pilotage.web.crm.models import Contact, Interaction, Order, StageChange, Subscription
from pilotage.web.dashboard.cache import data_changed
from pilotage.web.scoring.models import (
    ContactScore,
    ConversionModelRecord,
    ScoringModelRecord,
    ScoringRun,
)

WRITE_BATCH = 5_000

logger = logging.getLogger(__name__)


def company_settings() -> Settings:
    try:
        from pilotage.web.crm.services.importing import stored_company_settings
    except ImportError:  # pragma: no cover - older CRM without a settings page
        return Settings()
    return stored_company_settings()


def database_source(settings: Settings | None = None) -> Source:
    """The CRM database Django uses, as an analytical source (queried in place)."""
    data = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{data['NAME']}"
    elif connection.vendor == "postgresql":
        user = quote(str(data.get("USER") or ""), safe="")
        password = quote(str(data.get("PASSWORD") or ""), safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = data.get("HOST") or "localhost"
        port = f":{data['PORT']}" if data.get("PORT") else ""
        url = f"postgresql://{credentials}{host}{port}/{data['NAME']}"
    else:
        raise ValueError(f"scoring does not support the {connection.vendor} database")
    return from_database_url(url, settings or company_settings())


# Models in use.


def active_scoring_model() -> ScoringModel:
    record = ScoringModelRecord.objects.filter(is_active=True).first()
    if record is None:
        return default_model()
    model = parse_model(record.text, origin=f"scoring model {record.name!r}")
    return ScoringModel(
        model.name, model.max_score, model.groups, str(record.version), model.origin, model.text
    )


_LOADED: dict[str, TrainedModel] = {}


def active_conversion_model() -> TrainedModel | None:
    record = (
        ConversionModelRecord.objects.filter(is_active=True)
        .order_by("-trained_at")
        .only("version")
        .first()
    )
    if record is None:
        return None
    if record.version not in _LOADED:
        payload = ConversionModelRecord.objects.values_list("payload", flat=True).get(pk=record.pk)
        _LOADED.clear()
        _LOADED[record.version] = TrainedModel.loads(bytes(payload))
    return _LOADED[record.version]


@transaction.atomic
def scoring_model_save(*, name: str, text: str, activate: bool = True) -> ScoringModelRecord:
    """Check a rule model (syntax, keys, conditions, fields against the CRM's data) and
    save it. Raises `pilotage.scoring.ModelError` with `line:column` positions."""
    model = parse_model(text, origin=name)
    types = dict(BASE_FIELDS)
    for attributes in Contact.objects.exclude(attributes={}).values_list("attributes", flat=True)[
        :10_000
    ]:
        if isinstance(attributes, dict):
            for key in attributes:
                types.setdefault(str(key), "any")
    model.check_fields(types)
    previous = ScoringModelRecord.objects.filter(name=name).order_by("-version").first()
    if activate:
        ScoringModelRecord.objects.filter(is_active=True).update(is_active=False)
    return ScoringModelRecord.objects.create(
        name=name,
        text=text,
        version=(previous.version + 1) if previous else 1,
        is_active=activate,
        saved_at=timezone.now(),
    )


@transaction.atomic
def conversion_model_store(*, trained: TrainedModel) -> ConversionModelRecord:
    ConversionModelRecord.objects.filter(is_active=True).update(is_active=False)
    return ConversionModelRecord.objects.create(
        version=trained.version,
        trained_at=trained.trained_at,
        cutoff=trained.cutoff.replace(tzinfo=UTC),
        report=trained.report,
        payload=trained.dumps(),
        is_active=True,
    )


# One contact.


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _rows(values: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: _naive_utc(v) for k, v in row.items()} for row in values]


def _latest_run() -> ScoringRun | None:
    return ScoringRun.objects.order_by("-computed_at").first()


@dataclass(frozen=True)
class _OneContact:
    """One contact's row and its own rows, as the scoring core's one-contact functions
    take them (naive UTC timestamps)."""

    contact: dict[str, Any]
    attributes: dict[str, Any]
    orders: list[dict[str, Any]]
    subscriptions: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    stage_changes: list[dict[str, Any]]


def _one_contact(contact_id: str) -> _OneContact:
    contact_values = (
        Contact.objects.filter(pk=contact_id)
        .values(
            "contact_id",
            "created_at",
            "channel",
            "campaign_id",
            "owner_id",
            "name",
            "email",
            "phone",
            "company",
            "industry",
            "country",
            "city",
            "employees",
            "job_title",
            "attributes",
        )
        .get()
    )
    contact = _rows([contact_values])[0]
    attributes = contact.pop("attributes") or {}
    orders = _rows(
        Order.objects.filter(contact_id=contact_id).values("ordered_at", "amount", "status")
    )
    subscriptions = _rows(
        Subscription.objects.filter(contact_id=contact_id).values("started_at", "ended_at")
    )
    interactions = _rows(
        Interaction.objects.filter(contact_id=contact_id).values("occurred_at", "type")
    )
    changes = _rows(StageChange.objects.filter(contact_id=contact_id).values("stage", "changed_at"))
    return _OneContact(contact, attributes, orders, subscriptions, interactions, changes)


def contact_rule_row(
    *, contact_id: str, model: ScoringModel, as_of: datetime, types: Mapping[str, FieldType]
) -> dict[str, Any]:
    """One contact's rule points, group totals, score and grade under `model` at `as_of`
    (a row of `rule_frame`), computed from its own rows (read through indexes) in Python,
    as one-contact rescoring does: the contact page's reasons, without a query over the
    base (or its compilation: it names the contact)."""
    settings = company_settings()
    one = _one_contact(contact_id)
    values = fields_of_one(
        one.contact,
        orders=one.orders,
        subscriptions=one.subscriptions,
        interactions=one.interactions,
        stage_changes=one.stage_changes,
        as_of=_naive_utc(as_of),
        stages=settings.journey_stages,
        sums=interaction_sums(model),
        attributes={k: v for k, v in one.attributes.items() if k in model.field_names},
    )
    return rule_values(model, values, types)


@transaction.atomic
def contact_rescore(
    *,
    contact_id: str,
    as_of: datetime | None = None,
    model: ScoringModel | None = None,
) -> ContactScore:
    """Rescore one contact now (default as_of: now) and store the score as its latest."""
    settings = company_settings()
    model = model or active_scoring_model()
    trained = active_conversion_model()
    moment = _naive_utc(as_of or timezone.now())
    one = _one_contact(contact_id)
    contact, attributes = one.contact, one.attributes
    orders, subscriptions = one.orders, one.subscriptions
    interactions, changes = one.interactions, one.stage_changes
    types = dict(BASE_FIELDS)
    for name in model.field_names - set(types):
        types[name] = "any"
    run = _latest_run()
    edges = QuintileEdges.from_dict(run.rfm_edges) if run and run.rfm_edges else None
    row = score_contact(
        model,
        contact,
        orders=orders,
        subscriptions=subscriptions,
        interactions=interactions,
        stage_changes=changes,
        as_of=moment,
        stages=settings.journey_stages,
        types=types,
        attributes={k: v for k, v in attributes.items() if k in model.field_names},
        rfm_edges=edges,
        trained=trained,
        clv_model=run.clv_model if run else None,
        settings=settings,
    )
    fingerprint = fingerprint_of_one(
        contact,
        orders=orders,
        subscriptions=subscriptions,
        interactions=interactions,
        stage_changes=changes,
    )
    ContactScore.objects.filter(contact_id=contact_id, is_latest=True).update(is_latest=False)
    return ContactScore.objects.create(
        **_record_fields(model, row, moment, trained.version if trained else None),
        computed_at=timezone.now(),
        fingerprint=fingerprint,
    )


def contacts_rescore(*, contact_ids: Sequence[str], as_of: datetime | None = None) -> int:
    """Rescore a few contacts one by one (for many, `scores_refresh` is faster)."""
    for contact_id in contact_ids:
        contact_rescore(contact_id=contact_id, as_of=as_of)
    return len(contact_ids)


def _model_key(name: str, version: str) -> str:
    return f"{name}\x00{version}"


def _record_fields(
    model: ScoringModel, row: Mapping[str, Any], as_of: datetime, conversion_version: str | None
) -> dict[str, Any]:
    document = row_document(model, row, "en")
    probability = row.get("conversion_probability")
    if probability is not None and isinstance(probability, float) and math.isnan(probability):
        probability = None
    rfm = document["rfm"] or {}
    return {
        "contact_id": str(row["contact_id"]),
        "as_of": as_of.replace(tzinfo=UTC),
        "model_name": model.name,
        "model_version": model.version,
        "conversion_model_version": conversion_version,
        "score": float(row["score"]),
        "grade": document["grade"],
        "groups": document["groups"],
        "rules": document["rules"],
        "rfm_r": rfm.get("r"),
        "rfm_f": rfm.get("f"),
        "rfm_m": rfm.get("m"),
        "rfm_segment": rfm.get("segment"),
        "conversion_probability": None if probability is None else float(probability),
        "factors": row.get("factors") if isinstance(row.get("factors"), dict) else None,
        "predicted_clv": _finite(row.get("predicted_clv")),
        "churn_risk": _finite(row.get("churn_risk")),
        "priority": float(row["priority"]),
        "reason": str(row["reason_en"]),
        "reason_fr": str(row["reason_fr"]),
        "is_latest": True,
    }


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


# The whole base.


@dataclass
class RefreshReport:
    result: ScoreResult
    run: ScoringRun
    rescored: list[str]


def scores_refresh_in_background(*, everyone: bool = False) -> threading.Thread:
    """`scores_refresh` in a thread of its own (with its own database connection), for a
    write that changes many scores (an API batch, a new scoring model): the response does
    not wait for it. A failure is logged; the next refresh scores what it left."""

    def refresh() -> None:
        try:
            scores_refresh(everyone=everyone)
        except Exception:
            logger.exception("background rescoring failed")
        finally:
            connection.close()

    thread = threading.Thread(target=refresh, name="pilotage-rescoring")
    thread.start()
    return thread


def scores_refresh(
    *,
    everyone: bool = False,
    model: ScoringModel | None = None,
    as_of: datetime | None = None,
) -> RefreshReport:
    """Score the base in the engine and store the scores of the contacts whose data
    changed since their last score (all with `everyone`)."""
    started = time.perf_counter()
    settings = company_settings()
    source = database_source(settings)
    model = model or active_scoring_model()
    trained = active_conversion_model()
    try:
        result = score(source, model, as_of, trained=trained)
        current = fingerprints(source)
    finally:
        disconnect = getattr(source.backend, "disconnect", None)
        if disconnect is not None:
            disconnect()
    frame = result.frame.merge(current, on="contact_id", how="left")
    if everyone:
        changed = frame
    else:
        stored = dict(
            ContactScore.objects.filter(is_latest=True).values_list("contact_id", "fingerprint")
        )
        same = frame["contact_id"].map(stored) == frame["fingerprint"]
        # Scored by this model: the same name and version (a model saved in the CRM may
        # share its version number with the one that ships, not its name).
        scored_by = {
            contact_id: _model_key(name, version)
            for contact_id, name, version in ContactScore.objects.filter(
                is_latest=True
            ).values_list("contact_id", "model_name", "model_version")
        }
        same = same & (frame["contact_id"].map(scored_by) == _model_key(model.name, model.version))
        changed = frame[~same.fillna(False).astype(bool)]
    now = timezone.now()
    version = trained.version if trained else None
    ids = list(changed["contact_id"])
    with transaction.atomic():
        for first in range(0, len(ids), WRITE_BATCH):
            chunk = ids[first : first + WRITE_BATCH]
            ContactScore.objects.filter(contact_id__in=chunk, is_latest=True).update(
                is_latest=False
            )
        records = []
        changed_rows: list[dict[str, Any]] = changed.to_dict("records")  # type: ignore[assignment]
        for row in changed_rows:
            records.append(
                ContactScore(
                    **_record_fields(model, row, result.as_of, version),
                    computed_at=now,
                    fingerprint=str(row.get("fingerprint") or ""),
                )
            )
            if len(records) >= WRITE_BATCH:
                ContactScore.objects.bulk_create(records)
                records = []
        ContactScore.objects.bulk_create(records)
        run = ScoringRun.objects.create(
            computed_at=now,
            as_of=result.as_of.replace(tzinfo=UTC),
            model_name=model.name,
            model_version=model.version,
            conversion_model_version=version,
            rfm_edges=result.rfm_edges.to_dict() if result.rfm_edges else None,
            priority_basis=result.priority_basis,
            clv_model=result.clv_model,
            contacts=len(frame),
            rescored=len(ids),
            seconds=time.perf_counter() - started,
        )
        if ids:
            # Cached figures read stored scores (the team's expected wins): stale now.
            data_changed()
    return RefreshReport(result, run, ids)
