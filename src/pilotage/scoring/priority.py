"""One priority per contact, with its reason in words (scoring.md section 5).

Priority is a number from 0 to 100, highest first:
- a prospect: 100 x its conversion probability when a model is trained, else
  100 x score / max_score (the rule score);
- a customer: 100 x value x (0.5 + 0.5 x churn risk), the customers worth most and most at
  risk first. With the CLV models (Pareto/NBD + Gamma-Gamma, `pilotage.clv`), value is the
  customer's percentile of expected CLV and churn risk is 1 - P(alive); without them
  (too few customers, a fit that fails, one contact rescored in the CRM) value is the
  RFM monetary score / 5 and churn risk (5 - R) / 4, and the reason says so ("RFM").

Reasons are short phrases in English and French: "high fit, 3 interactions this week",
"was a top buyer, no order for 200 days".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

FIT_WORDS = {
    "A": ("high fit", "bon profil"),
    "B": ("medium fit", "profil moyen"),
    "C": ("low fit", "profil faible"),
}
SEGMENT_WORDS = {
    "champions": ("champion", "champion"),
    "potential_loyalists": ("potential loyalist", "fidèle en devenir"),
    "loyal_customers": ("loyal customer", "client fidèle"),
    "promising": ("promising", "prometteur"),
    "new_customers": ("new customer", "nouveau client"),
    "cant_lose_them": ("can't lose them", "à ne pas perdre"),
    "at_risk": ("at risk", "à risque"),
    "need_attention": ("needs attention", "à surveiller"),
    "about_to_sleep": ("about to sleep", "en sommeil"),
    "lost": ("lost", "perdu"),
    "others": ("customer", "client"),
}
FEATURE_WORDS = {
    "channel": ("channel", "canal"),
    "campaign_id": ("campaign", "campagne"),
    "owner_id": ("owner", "commercial"),
    "industry": ("industry", "secteur"),
    "job_title": ("job title", "fonction"),
    "country": ("country", "pays"),
    "stage": ("stage", "étape"),
    "employees": ("employees", "salariés"),
    "days_since_created": ("days since creation", "jours depuis la création"),
    "days_since_last_interaction": ("days since last touch", "jours depuis le dernier contact"),
    "interactions_30d": ("touches in 30 days", "contacts sur 30 jours"),
    "stage_index": ("stage", "étape"),
}


@dataclass(frozen=True)
class Priority:
    value: float
    reason_en: str
    reason_fr: str


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _days(value: float) -> int:
    return int(math.floor(value))


def feature_words(feature: str, value: Any) -> tuple[str, str]:
    if feature.startswith(("count_", "recent_")):
        kind = feature.split("_", 1)[1].replace("_", " ")
        if feature.startswith("recent_"):
            return (f"recent {kind}", f"{kind} récent")
        return (f"{kind} x{value}", f"{kind} x{value}")
    en, fr = FEATURE_WORDS.get(feature, (feature, feature))
    if value is None:
        return (f"no {en}", f"{fr} inconnu")
    return (f"{en} {value}", f"{fr} {value}")


def prospect_priority(
    *,
    score: float,
    max_score: float,
    grade: str | None,
    touches_7d: int,
    days_since_last_interaction: float | None,
    probability: float | None,
    window_days: int,
    top_factor: tuple[str, Any] | None = None,
) -> Priority:
    en: list[str] = []
    fr: list[str] = []
    if grade:
        words = FIT_WORDS.get(grade[0])
        if words:
            en.append(words[0])
            fr.append(words[1])
    if touches_7d > 0:
        en.append(f"{touches_7d} {_plural(touches_7d, 'interaction', 'interactions')} this week")
        fr.append(
            f"{touches_7d} {_plural(touches_7d, 'interaction', 'interactions')} cette semaine"
        )
    elif days_since_last_interaction is not None and not math.isnan(days_since_last_interaction):
        days = _days(days_since_last_interaction)
        en.append(f"last touch {days} {_plural(days, 'day', 'days')} ago")
        fr.append(f"dernier contact il y a {days} {_plural(days, 'jour', 'jours')}")
    else:
        en.append("never contacted")
        fr.append("jamais contacté")
    if probability is not None and not math.isnan(probability):
        percent = round(100 * probability, 1)
        en.append(f"{percent:g}% chance to buy within {window_days} days")
        fr.append(f"{percent:g} % de chances d'acheter sous {window_days} jours")
        if top_factor is not None:
            words = feature_words(*top_factor)
            en.append(f"mainly {words[0]}")
            fr.append(f"surtout {words[1]}")
        value = 100 * probability
    else:
        value = 100 * score / max_score if max_score else 0.0
    return Priority(round(value, 2), ", ".join(en), ", ".join(fr))


def customer_priority(
    *,
    r: int | None,
    f: int | None,
    m: int | None,
    segment: str | None,
    days_since_last_order: float | None,
    orders_count: int,
    clv_percentile: float | None = None,
    p_alive: float | None = None,
) -> Priority:
    use_clv = clv_percentile is not None and p_alive is not None
    if use_clv:
        assert clv_percentile is not None
        assert p_alive is not None
        value = clv_percentile
        risk = 1.0 - p_alive
    elif r is not None and m is not None:
        value = m / 5
        risk = (5 - r) / 4
    else:  # a subscriber without paid orders
        value, risk = 0.5, 0.0
    en: list[str] = []
    fr: list[str] = []
    top_buyer = m is not None and m >= 4
    at_risk = (r is not None and r <= 2) or (use_clv and risk >= 0.5)
    if days_since_last_order is not None and not math.isnan(days_since_last_order):
        days = _days(days_since_last_order)
        day_en = _plural(days, "day", "days")
        day_fr = _plural(days, "jour", "jours")
        if top_buyer and at_risk:
            en.append(f"was a top buyer, no order for {days} {day_en}")
            fr.append(f"était un gros acheteur, aucune commande depuis {days} {day_fr}")
        else:
            words = SEGMENT_WORDS.get(segment or "others", SEGMENT_WORDS["others"])
            orders_en = _plural(orders_count, "order", "orders")
            orders_fr = _plural(orders_count, "commande", "commandes")
            en.append(f"{words[0]}, {orders_count} {orders_en}, last {days} {day_en} ago")
            fr.append(f"{words[1]}, {orders_count} {orders_fr}, dernière il y a {days} {day_fr}")
    else:
        en.append("subscriber")
        fr.append("abonné")
    if use_clv:
        assert p_alive is not None
        en.append(f"{round(100 * p_alive):d}% likely still active")
        fr.append(f"{round(100 * p_alive):d} % de chances d'être encore actif")
    else:
        en.append("(RFM)")
        fr.append("(RFM)")
    return Priority(round(100 * value * (0.5 + 0.5 * risk), 2), ", ".join(en), ", ".join(fr))
