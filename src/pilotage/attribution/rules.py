"""The rule-based models (attribution.md, "Rule-based models") as Ibis expressions.

Each model is a per-touchpoint credit computed from the touchpoint's rank k, the path's
length n and, for time decay, its distance in time to the path's last touch. Credits of
one conversion sum to 1 by construction.
"""

from __future__ import annotations

import math
from typing import Literal

import ibis
import ibis.expr.types as ir

RuleModel = Literal["first_touch", "last_touch", "linear", "time_decay", "position_based"]
RULE_MODELS: tuple[RuleModel, ...] = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
)


def rule_credit(model: RuleModel, paths: ir.Table, half_life_days: float) -> ir.FloatingValue:
    """The credit of each touchpoint row of `paths` (columns k, n, decay_seconds, and
    contact_id identifying the path) under `model`."""
    k = paths.k
    n = paths.n
    if model == "first_touch":
        return ibis.ifelse(k == 1, 1.0, 0.0)
    if model == "last_touch":
        return ibis.ifelse(k == n, 1.0, 0.0)
    if model == "linear":
        return 1.0 / n.cast("float64")
    if model == "time_decay":
        # 0.5 ** ((c - t_k) / H), normalised per conversion. The common factor
        # 0.5 ** ((c - t_n) / H) cancels, so the weights are taken relative to the last
        # touch: that one weighs exactly 1 and the sum can never underflow to 0, whatever
        # the lookback and the half-life.
        rate = math.log(2.0) / (half_life_days * 86_400.0)
        weight = (paths.decay_seconds * -rate).exp()
        total = weight.sum().over(ibis.window(group_by="contact_id"))
        return weight / total
    if model == "position_based":
        return (
            ibis.cases(
                (n == 1, 1.0),
                (n == 2, 0.5),
                ((k == 1) | (k == n), 0.4),
                else_=0.2 / (n - 2).cast("float64"),
            )
        ).cast("float64")
    raise ValueError(f"unknown rule-based model {model!r}; use one of {', '.join(RULE_MODELS)}")


def with_rule_credits(
    paths: ir.Table, models: tuple[RuleModel, ...], half_life_days: float
) -> ir.Table:
    """`paths` with one credit column per model, named `credit_<model>` (one pass for all
    the rule-based models)."""
    return paths.mutate(
        **{f"credit_{model}": rule_credit(model, paths, half_life_days) for model in models}
    )
