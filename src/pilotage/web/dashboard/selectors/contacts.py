"""Reads of the contacts list and of a contact's page.

The list is built for a million contacts: keyset paging on an indexed order (creation
time, or name, then contact_id), no OFFSET and no COUNT(*) of the whole table (a capped
count answers "1,000+"), filters that use the contacts' indexes (owner, channel,
created_at), and the current stage as a correlated subquery on the stage changes'
(contact_id, stage, changed_at) index.

Sorting by score or priority, and filtering by RFM segment or score range, read the
scoring app's stored latest scores (`contact_scores`, `is_latest`): one join, keyset
paging on (score, contact_id) or (priority, contact_id), highest first, on the partial
indexes of the latest scores. Contacts never scored are not in those lists.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from django.db.models import (
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce

from pilotage.scoring.rfm import OTHERS
from pilotage.scoring.rfm import SEGMENTS as RFM_SEGMENTS
from pilotage.web.crm.models import Contact, Deal, Interaction, Order, StageChange, Subscription
from pilotage.web.dashboard.analytics import as_of_utc, company_settings
from pilotage.web.dashboard.cache import cached
from pilotage.web.scoring.models import ContactScore

PAGE_SIZE = 50
COUNT_CAP = 1000
SORTS = {
    "-created": (("-created_at", "-contact_id"), ("created_at", "contact_id")),
    "created": (("created_at", "contact_id"), ("created_at", "contact_id")),
    "name": (("sort_name", "contact_id"), ("sort_name", "contact_id")),
    "-score": (("-score_now", "-contact_id"), ("score_now", "contact_id")),
    "-priority": (("-priority_now", "-contact_id"), ("priority_now", "contact_id")),
}
SCORE_SORTS = ("-score", "-priority")
SEGMENTS = (*(segment[0] for segment in RFM_SEGMENTS), OTHERS)


def _score_bound(text: str) -> str:
    """A score bound from the query string ("" when absent or not a number)."""
    try:
        value = float(text)
    except ValueError:
        return ""
    return text.strip() if value == value and abs(value) < 1e9 else ""


@dataclass(frozen=True)
class ContactFilters:
    q: str = ""
    stage: str = ""
    owner: str = ""
    channel: str = ""
    kind: str = ""  # "customer", "prospect" or ""
    segment: str = ""  # an RFM segment of the latest score
    score_min: str = ""  # bounds of the latest score, inclusive
    score_max: str = ""
    sort: str = "-created"
    cursor: str = ""

    @property
    def by_score(self) -> bool:
        """Whether the list reads the stored latest scores (a join on contact_scores)."""
        return bool(self.sort in SCORE_SORTS or self.segment or self.score_min or self.score_max)

    @classmethod
    def from_query(cls, params: Any) -> ContactFilters:
        sort = params.get("sort", "-created")
        return cls(
            q=params.get("q", "").strip()[:100],
            stage=params.get("stage", ""),
            owner=params.get("owner", ""),
            channel=params.get("channel", ""),
            kind=params.get("kind", "") if params.get("kind") in ("customer", "prospect") else "",
            segment=params.get("segment", "") if params.get("segment") in SEGMENTS else "",
            score_min=_score_bound(params.get("score_min", "")),
            score_max=_score_bound(params.get("score_max", "")),
            sort=sort if sort in SORTS else "-created",
            cursor=params.get("cursor", ""),
        )

    def query(self, **changes: str) -> str:
        from urllib.parse import urlencode

        values = {
            "q": self.q,
            "stage": self.stage,
            "owner": self.owner,
            "channel": self.channel,
            "kind": self.kind,
            "segment": self.segment,
            "score_min": self.score_min,
            "score_max": self.score_max,
            "sort": self.sort,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True)
class ContactLine:
    contact_id: str
    name: str
    company: str
    email: str
    channel: str
    owner: str
    stage: str
    created_at: datetime
    is_customer: bool
    score: float | None = None
    grade: str | None = None
    priority: float | None = None
    segment: str | None = None


@dataclass(frozen=True)
class ContactPage:
    lines: list[ContactLine]
    next_cursor: str | None
    count_text: str
    filters: ContactFilters


def _encode(values: list[Any]) -> str:
    text = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode(cursor: str) -> list[Any] | None:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return values if isinstance(values, list) and len(values) == 2 else None


def current_stage() -> Subquery:
    latest = StageChange.objects.filter(contact_id=OuterRef("contact_id")).order_by(
        "-changed_at", "-id"
    )
    return Subquery(latest.values("stage")[:1])


def is_customer() -> Q:
    paid = Order.objects.filter(contact_id=OuterRef("contact_id"), status="paid", amount__gt=0)
    subscribed = Subscription.objects.filter(contact_id=OuterRef("contact_id"))
    return Q(Exists(paid)) | Q(Exists(subscribed))


def contact_page(contacts: QuerySet[Contact], filters: ContactFilters) -> ContactPage:
    qs = contacts
    if filters.q:
        qs = qs.filter(
            Q(contact_id=filters.q)
            | Q(name__icontains=filters.q)
            | Q(company__icontains=filters.q)
            | Q(email__icontains=filters.q)
        )
    if filters.owner:
        qs = (
            qs.filter(owner_id=filters.owner)
            if filters.owner != "-"
            else qs.filter(owner__isnull=True)
        )
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.kind == "customer":
        qs = qs.filter(is_customer())
    elif filters.kind == "prospect":
        qs = qs.exclude(is_customer())
    qs = qs.annotate(stage_now=current_stage())
    if filters.stage:
        qs = qs.filter(stage_now=filters.stage)
    order, keys = SORTS[filters.sort]
    if filters.sort == "name":
        qs = qs.annotate(sort_name=Coalesce("name", Value(""), output_field=TextField()))
    if filters.by_score:
        # One join on the latest score, all its conditions in one filter() (one join).
        latest: dict[str, Any] = {"scores__is_latest": True}
        if filters.segment:
            latest["scores__rfm_segment"] = filters.segment
        if filters.score_min:
            latest["scores__score__gte"] = float(filters.score_min)
        if filters.score_max:
            latest["scores__score__lte"] = float(filters.score_max)
        qs = qs.filter(**latest).annotate(
            score_now=F("scores__score"), priority_now=F("scores__priority")
        )
    values = _decode(filters.cursor) if filters.cursor else None
    if values is not None:
        first_key, id_key = keys
        first_value: Any = values[0]
        if first_key == "created_at":
            try:
                first_value = datetime.fromisoformat(first_value)
            except (TypeError, ValueError):
                values = None
        elif first_key in ("score_now", "priority_now") and not isinstance(
            first_value, int | float
        ):
            values = None
    if values is not None:
        descending = order[0].startswith("-")
        op = "lt" if descending else "gt"
        qs = qs.filter(
            Q(**{f"{first_key}__{op}": first_value})
            | Q(**{first_key: first_value, f"{id_key}__{op}": values[1]})
        )
    rows = list(
        qs.order_by(*order)
        .annotate(customer=Q(is_customer()))
        .values(
            "contact_id",
            "name",
            "company",
            "email",
            "channel",
            "owner__name",
            "stage_now",
            "created_at",
            "customer",
            *(["sort_name"] if filters.sort == "name" else []),
            *(["score_now", "priority_now"] if filters.by_score else []),
        )[: PAGE_SIZE + 1]
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _encode([last[keys[0]], last["contact_id"]])
    if filters.cursor:
        count_text = ""
    else:
        counted = qs.values("pk")[: COUNT_CAP + 1].count() if more else len(rows)
        count_text = f"{COUNT_CAP:,}+" if counted > COUNT_CAP else f"{counted:,}"
    scores = {
        s["contact_id"]: s
        for s in ContactScore.objects.filter(
            is_latest=True, contact_id__in=[r["contact_id"] for r in rows]
        ).values("contact_id", "score", "grade", "priority", "rfm_segment")
    }
    lines = [
        ContactLine(
            r["contact_id"],
            r["name"] or r["company"] or r["contact_id"],
            r["company"] or "",
            r["email"] or "",
            r["channel"],
            r["owner__name"] or "—",
            r["stage_now"] or "—",
            r["created_at"],
            bool(r["customer"]),
            *_score_fields(scores.get(r["contact_id"])),
        )
        for r in rows
    ]
    return ContactPage(lines, next_cursor, count_text, filters)


def _score_fields(
    stored: Mapping[str, Any] | None,
) -> tuple[float | None, str | None, float | None, str | None]:
    if stored is None:
        return None, None, None, None
    return stored["score"], stored["grade"], stored["priority"], stored["rfm_segment"]


# --- A contact ----------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str  # interaction, stage, deal, order, subscription
    title: str
    detail: str
    amount: float | None = None


@dataclass(frozen=True)
class RuleHit:
    group: str
    rule: str
    points: float


@dataclass(frozen=True)
class ContactScores:
    model: str
    score: float | None
    max_score: float
    grade: str | None
    groups: dict[str, float]
    rules: list[RuleHit]


@dataclass(frozen=True)
class ContactValue:
    is_customer: bool
    orders: int
    revenue: float
    churn_risk: float | None
    clv: float | None
    segment: str | None
    rfm: tuple[int, int, int] | None


@dataclass(frozen=True)
class ContactDetail:
    contact: Contact
    stage: str | None
    timeline: list[TimelineEvent]
    scores: ContactScores | None
    scores_error: str | None
    value: ContactValue
    stages: tuple[str, ...]
    currency: str


def _money(value: object) -> float | None:
    return None if value is None else float(str(value))


def timeline(contact: Contact, limit: int = 200) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for i in Interaction.objects.filter(contact=contact).order_by("-occurred_at")[:limit]:
        note = str((i.attributes or {}).get("note", ""))
        detail = " · ".join(x for x in [i.channel or "", i.campaign_id or "", note] if x)
        events.append(TimelineEvent(i.occurred_at, "interaction", i.type, detail))
    for s in StageChange.objects.filter(contact=contact).order_by("-changed_at")[:limit]:
        events.append(TimelineEvent(s.changed_at, "stage", s.stage, ""))
    for d in Deal.objects.filter(contact=contact).order_by("-created_at")[:limit]:
        events.append(
            TimelineEvent(
                d.created_at,
                "deal",
                d.deal_id,
                d.status + (f" · {d.lost_reason}" if d.lost_reason else ""),
                _money(d.amount),
            )
        )
        if d.closed_at is not None:
            events.append(
                TimelineEvent(
                    d.closed_at,
                    "deal",
                    d.deal_id,
                    d.status,
                    _money(d.amount),
                )
            )
    for o in Order.objects.filter(contact=contact).order_by("-ordered_at")[:limit]:
        events.append(TimelineEvent(o.ordered_at, "order", o.order_id, o.status, _money(o.amount)))
    for sub in Subscription.objects.filter(contact=contact).order_by("-started_at")[:limit]:
        events.append(
            TimelineEvent(
                sub.started_at, "subscription", sub.plan or sub.subscription_id, "", _money(sub.mrr)
            )
        )
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]


def rule_scores(contact_id: str) -> ContactScores:
    """The rule score of one contact with the rules that fired (its reasons), computed
    by the scoring core with the active model, from the contact's own rows."""
    from pilotage.scoring.rules import group_column, rule_column
    from pilotage.web.dashboard.selectors.scoring import active_model, model_field_types
    from pilotage.web.scoring.services import contact_rule_row

    model = active_model()
    if not Contact.objects.filter(pk=contact_id).exists():
        return ContactScores(model.name, None, model.max_score, None, {}, [])
    row = contact_rule_row(
        contact_id=contact_id, model=model, as_of=as_of_utc(), types=model_field_types(model)
    )

    groups = {g.name: float(row[group_column(i)]) for i, g in enumerate(model.groups)}
    hits = [
        RuleHit(rule.group, rule.name, float(row[rule_column(rule)]))
        for rule in model.rules
        if row[rule_column(rule)] and not pd.isna(row[rule_column(rule)])
    ]
    hits.sort(key=lambda h: -abs(h.points))
    grade = row.get("grade")
    return ContactScores(
        model.name,
        float(row["score"]),
        model.max_score,
        None if grade is None or pd.isna(grade) else str(grade),
        groups,
        hits,
    )


def rfm_base() -> pd.DataFrame:
    """R, F, M and segment of every customer (scoring.md section 2), cached."""

    def compute() -> pd.DataFrame:
        from pilotage.scoring.rfm import rfm_scores

        as_of = as_of_utc()
        rows = (
            Order.objects.filter(status="paid", amount__gt=0)
            .values("contact_id")
            .annotate(frequency=Coalesce(Sum(Value(1)), 0), monetary=Sum("amount"))
        )
        frame = pd.DataFrame.from_records(list(rows))
        if frame.empty:
            return frame
        from django.db.models import Max

        last = dict(
            Order.objects.filter(status="paid", amount__gt=0)
            .values("contact_id")
            .annotate(last=Max("ordered_at"))
            .values_list("contact_id", "last")
        )
        reference = pd.Timestamp(as_of, tz="UTC")
        frame["recency_days"] = [
            (reference - pd.Timestamp(last[c])).total_seconds() / 86400 for c in frame["contact_id"]
        ]
        frame["monetary"] = frame["monetary"].astype("float64")
        frame = frame.set_index("contact_id")
        return frame.join(rfm_scores(frame))

    return cached("rfm", (), compute)


def contact_value(contact: Contact) -> ContactValue:
    paid = Order.objects.filter(contact=contact, status="paid", amount__gt=0)
    orders = paid.count()
    revenue = float(paid.aggregate(total=Sum("amount"))["total"] or 0)
    customer = orders > 0 or Subscription.objects.filter(contact=contact).exists()
    churn_risk = clv = None
    segment = None
    rfm = None
    if orders:
        # Stored by the scoring batch (CLV models fitted on the whole base) and by the
        # rescoring of this contact after its writes.
        stored = (
            ContactScore.objects.filter(contact=contact, is_latest=True)
            .values("churn_risk", "predicted_clv")
            .first()
        )
        if stored is not None:
            churn_risk, clv = stored["churn_risk"], stored["predicted_clv"]
        base = rfm_base()
        if not base.empty and contact.contact_id in base.index:
            record: dict[Any, Any] = base.loc[contact.contact_id].to_dict()
            segment = str(record["segment"])
            rfm = (int(record["r"]), int(record["f"]), int(record["m"]))
    return ContactValue(customer, orders, revenue, churn_risk, clv, segment, rfm)


def contact_detail(contact: Contact) -> ContactDetail:
    settings = company_settings()
    latest = StageChange.objects.filter(contact=contact).order_by("-changed_at", "-id").first()
    scores: ContactScores | None = None
    error = None
    try:
        scores = cached(
            "contact-scores", (contact.contact_id,), lambda: rule_scores(contact.contact_id)
        )
    except Exception as problem:  # noqa: BLE001 - the page stands without its scores
        error = f"{type(problem).__name__}: {problem}"
    return ContactDetail(
        contact=contact,
        stage=latest.stage if latest else None,
        timeline=timeline(contact),
        scores=scores,
        scores_error=error,
        value=contact_value(contact),
        stages=settings.journey_stages,
        currency=settings.currency,
    )


def filter_choices(contacts: QuerySet[Contact]) -> dict[str, list[Any]]:
    def compute() -> dict[str, list[Any]]:
        channels = sorted(Contact.objects.order_by().values_list("channel", flat=True).distinct())
        return {"channels": channels}

    return cached("contact-choices", (), compute)
