"""Writes of the web pages (`<entity>_<action>`, keyword-only, one transaction each).

Every write that changes what KPIs show calls `cache.data_changed()`. Writes on a contact
first ask the scoring app to rescore that contact at once (`contact_rescore`, in the
same transaction), and record an audit entry when the audit app is installed.
"""

from __future__ import annotations

import importlib
import json
import logging
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from pilotage.contract.settings import SETTING_NAMES, Settings, settings_from_mapping
from pilotage.engine.catalogue import KPIS
from pilotage.engine.periods import GRAINS
from pilotage.web.audit.services import audit_record
from pilotage.web.crm.models import Contact, Interaction, StageChange
from pilotage.web.dashboard.cache import data_changed
from pilotage.web.dashboard.models import CompanySetting, KpiTarget, PinnedKpi
from pilotage.web.dashboard.selectors.kpis import DEFAULT_PINS

logger = logging.getLogger(__name__)


class ServiceError(ValueError):
    """A write refused for a reason the user can fix; the message says which."""


def _own_pins(user: Any) -> None:
    """Store the default pins as the user's own list before its first change."""
    if not PinnedKpi.objects.filter(user_id=user.pk).exists():
        PinnedKpi.objects.bulk_create(
            PinnedKpi(user_id=user.pk, kpi=name, position=index)
            for index, name in enumerate(DEFAULT_PINS)
        )


@transaction.atomic
def kpi_pin(*, user: Any, kpi: str) -> None:
    if kpi not in KPIS:
        raise ServiceError(f"unknown KPI {kpi!r}")
    _own_pins(user)
    last = PinnedKpi.objects.filter(user_id=user.pk).aggregate(last=Max("position"))["last"]
    PinnedKpi.objects.get_or_create(
        user_id=user.pk, kpi=kpi, defaults={"position": (last or 0) + 1}
    )


@transaction.atomic
def kpi_unpin(*, user: Any, kpi: str) -> None:
    _own_pins(user)
    PinnedKpi.objects.filter(user_id=user.pk, kpi=kpi).delete()


@transaction.atomic
def kpi_target_set(*, user: Any, kpi: str, grain: str, value: float | None) -> None:
    """Set (or, with None, remove) the company's target of `kpi` at `grain`."""
    if kpi not in KPIS:
        raise ServiceError(f"unknown KPI {kpi!r}")
    if grain not in GRAINS:
        raise ServiceError(f"unknown grain {grain!r}")
    if value is None:
        KpiTarget.objects.filter(kpi=kpi, grain=grain).delete()
        return
    KpiTarget.objects.update_or_create(
        kpi=kpi, grain=grain, defaults={"value": float(value), "updated_by_id": user.pk}
    )


@transaction.atomic
def company_settings_save(*, values: dict[str, Any]) -> Settings:
    """Validate `values` as a whole (settings_from_mapping) and store them, one row per
    setting, value as JSON text; settings equal to their default are removed."""
    settings = settings_from_mapping(values, origin="settings page")
    defaults = Settings().to_dict()
    stored = settings.to_dict()
    for name in SETTING_NAMES:
        if stored[name] == defaults[name]:
            CompanySetting.objects.filter(name=name).delete()
        else:
            CompanySetting.objects.update_or_create(
                name=name, defaults={"value": json.dumps(stored[name])}
            )
    data_changed()
    return settings


def _after_contact_write(
    contact_id: str, table: str, object_id: str, user: Any, after: dict[str, Any]
) -> None:
    audit_record(
        user=user,
        door="web",
        action="create",
        table=table,
        object_id=object_id,
        before=None,
        after={"contact_id": contact_id, **after},
    )
    _rescore(contact_id)
    # After the rescore: the cache warm this starts once committed reads stored scores
    # (the team's expected wins), which must be the new ones.
    data_changed()


def _rescore(contact_id: str) -> None:
    """Rescore the contact within the write's transaction, in a savepoint: a failure
    undoes the rescore only, the write stands and the next batch scoring catches up."""
    try:
        scoring = importlib.import_module("pilotage.web.scoring.services")
    except ImportError:
        return
    rescore = getattr(scoring, "contact_rescore", None)
    if rescore is None:
        return
    try:
        with transaction.atomic():
            rescore(contact_id=contact_id)
    except Exception:
        logger.exception("rescoring contact %s failed", contact_id)


@transaction.atomic
def contact_interaction_log(
    *,
    user: Any,
    contact: Contact,
    type: str,
    occurred_at: datetime | None = None,
    note: str = "",
) -> Interaction:
    """Log a touch made by the user (a call, a meeting...) on `contact`."""
    if not type or type != type.strip().lower():
        raise ServiceError("the interaction type must be a lowercase name such as 'call'")
    rep_id = getattr(getattr(user, "profile", None), "rep_id", None)
    interaction = Interaction.objects.create(
        interaction_id=f"web-{uuid.uuid4().hex[:16]}",
        contact=contact,
        occurred_at=occurred_at or timezone.now(),
        type=type,
        rep_id=rep_id,
        attributes={"note": note, "logged_by": user.get_username()}
        if note
        else {"logged_by": user.get_username()},
    )
    _after_contact_write(
        contact.contact_id,
        "interactions",
        interaction.interaction_id,
        user,
        {"type": type, "occurred_at": interaction.occurred_at, "note": note},
    )
    return interaction


@transaction.atomic
def contact_stage_move(
    *, user: Any, contact: Contact, stage: str, journey_stages: tuple[str, ...]
) -> StageChange:
    """Move `contact` to `stage` of the journey, now."""
    if stage not in journey_stages:
        raise ServiceError(f"{stage!r} is not a stage of the journey ({', '.join(journey_stages)})")
    change = StageChange.objects.create(
        contact=contact,
        stage=stage,
        changed_at=timezone.now(),
        attributes={"moved_by": user.get_username()},
    )
    _after_contact_write(
        contact.contact_id,
        "stage_changes",
        str(change.pk),
        user,
        {"stage": stage, "changed_at": change.changed_at},
    )
    return change


@transaction.atomic
def scoring_model_save(*, user: Any, text: str) -> None:
    """Save the model text as the active model of the scoring app (the one every stored
    score comes from), once it parses and names known fields; then rescore everyone with
    it, in the background (scoring.md: scores are recomputed automatically)."""
    from pilotage.scoring.model import ModelError
    from pilotage.web.dashboard.selectors.scoring import model_check
    from pilotage.web.scoring import services as scoring

    check = model_check(text)
    if check.model is None:
        raise ServiceError("\n".join(check.problems))
    try:
        record = scoring.scoring_model_save(name=check.model.name, text=text)
    except ModelError as error:
        raise ServiceError(str(error)) from error
    audit_record(
        user=user,
        door="web",
        action="create",
        table="scoring_models",
        object_id=str(record.pk),
        before=None,
        after={"name": record.name, "version": record.version},
    )
    transaction.on_commit(lambda: scoring.scores_refresh_in_background(everyone=True))
    data_changed()
