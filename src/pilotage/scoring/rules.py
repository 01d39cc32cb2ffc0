"""Applying a rule model: points per rule, group subtotals, score and grade.

- A `when` rule gives its points when its condition holds (a missing value never matches).
- An `interaction` rule gives its points for each interaction of its types up to as_of,
  decayed by 0.5 ** (age_days / half_life_days), only the last `within_days` when set,
  then capped to [-max, max] (`max` of the rule).
- `stage_points` gives the points of the latest stage reached (none without a stage).
- A group's total is clipped to [-max, max]; the score, the sum of the groups, to
  [0, max_score].
- Grade: a letter for the fit group and a digit for the engagement group, each by thirds
  of the group's max: A (resp. 1) when total >= 2/3 of max, B (2) when total >= 1/3 of max,
  else C (3). Compared as 3 * total >= 2 * max, so that a boundary reached exactly is
  never lost to rounding. No grade (None) when the model has no group named `fit` or
  `engagement`.

`rule_frame` computes every contact in the engine; `rule_values` one contact in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from pilotage.engine.backends import Source
from pilotage.scoring.expressions import FieldType
from pilotage.scoring.features import InteractionSum, fields_expression
from pilotage.scoring.model import Group, Rule, ScoringModel

FIT_GROUP = "fit"
ENGAGEMENT_GROUP = "engagement"


def rule_column(rule: Rule) -> str:
    return f"rule__{rule.key}"


def stage_column(group_index: int) -> str:
    return f"stage__{group_index}"


def group_column(group_index: int) -> str:
    return f"group__{group_index}"


def interaction_sum(rule: Rule) -> InteractionSum:
    return InteractionSum(
        name=f"touches__{rule.key}",
        types=rule.interactions,
        weight=1.0,
        half_life_days=rule.half_life_days,
        within_days=rule.within_days,
    )


def interaction_sums(model: ScoringModel) -> list[InteractionSum]:
    return [interaction_sum(rule) for rule in model.rules if rule.interactions]


def _clip(value: ir.NumericValue, bound: float) -> ir.NumericValue:
    clipped: ir.NumericValue = value.clip(lower=-bound, upper=bound)
    return clipped


def rule_points_expression(
    rule: Rule, fields: ir.Table, types: Mapping[str, FieldType]
) -> ir.FloatingValue:
    points: ir.FloatingValue = ibis.literal(rule.points, type="float64")
    if rule.interactions:
        points = points * fields[interaction_sum(rule).name]
    if rule.when is not None:
        condition = rule.when.to_ibis({name: fields[name] for name in rule.when.names}, types)
        points = ibis.ifelse(condition, points, 0.0)
    if rule.cap is not None:
        points = _clip(points, rule.cap)
    return points


def stage_points_expression(group: Group, fields: ir.Table) -> ir.FloatingValue:
    cases = [(fields.stage == stage, points) for stage, points in group.stage_points.items()]
    result: ir.FloatingValue = ibis.cases(*cases, else_=0.0)
    return result


def rule_frame(
    source: Source,
    model: ScoringModel,
    as_of: datetime,
    types: Mapping[str, FieldType],
    *,
    extra_fields: Sequence[str] = (),
    extra_sums: Sequence[InteractionSum] = (),
    contacts: ir.Table | None = None,
) -> pd.DataFrame:
    """Every contact's rule points, group totals and score (engine-side), with the
    `extra_fields` asked for (e.g. the RFM inputs)."""
    attributes = sorted(name for name in model.field_names if types.get(name) == "any")
    fields = fields_expression(
        source,
        as_of,
        sums=[*interaction_sums(model), *extra_sums],
        attributes=attributes,
        contacts=contacts,
    )
    columns: dict[str, ir.Value] = {"contact_id": fields.contact_id}
    for name in extra_fields:
        columns[name] = fields[name]
    group_totals: list[ir.FloatingValue] = []
    for index, group in enumerate(model.groups):
        parts: list[ir.FloatingValue] = []
        for rule in group.rules:
            value = rule_points_expression(rule, fields, types)
            columns[rule_column(rule)] = value
            parts.append(value)
        if group.stage_points:
            value = stage_points_expression(group, fields)
            columns[stage_column(index)] = value
            parts.append(value)
        total: ir.FloatingValue = parts[0]
        for part in parts[1:]:
            total = total + part
        clipped = _clip(total, group.max)
        columns[group_column(index)] = clipped
        group_totals.append(clipped)
    score: ir.NumericValue = group_totals[0]
    for value in group_totals[1:]:
        score = score + value
    columns["score"] = score.clip(lower=0.0, upper=model.max_score)
    if any(group.stage_points for group in model.groups):
        columns["stage"] = fields.stage
    frame: pd.DataFrame = source.execute(fields.select(**columns))
    frame["contact_id"] = frame["contact_id"].astype(str)
    for column in frame.columns:
        if column.startswith(("rule__", "stage__", "group__")) or column == "score":
            frame[column] = frame[column].astype("float64")
    frame["grade"] = grades(model, frame)
    return frame


def grade_of(model: ScoringModel, fit: float | None, engagement: float | None) -> str | None:
    fit_group = model.group(FIT_GROUP)
    engagement_group = model.group(ENGAGEMENT_GROUP)
    if fit_group is None or engagement_group is None or fit is None or engagement is None:
        return None
    letter = "A" if 3 * fit >= 2 * fit_group.max else "B" if 3 * fit >= fit_group.max else "C"
    digit = (
        "1"
        if 3 * engagement >= 2 * engagement_group.max
        else "2"
        if 3 * engagement >= engagement_group.max
        else "3"
    )
    return letter + digit


def grades(model: ScoringModel, frame: pd.DataFrame) -> pd.Series:
    names = [group.name for group in model.groups]
    if FIT_GROUP not in names or ENGAGEMENT_GROUP not in names:
        return pd.Series([None] * len(frame), index=frame.index, dtype="object")
    fit_max = model.groups[names.index(FIT_GROUP)].max
    engagement_max = model.groups[names.index(ENGAGEMENT_GROUP)].max
    fit = frame[group_column(names.index(FIT_GROUP))].to_numpy()
    engagement = frame[group_column(names.index(ENGAGEMENT_GROUP))].to_numpy()
    letter = np.where(3 * fit >= 2 * fit_max, "A", np.where(3 * fit >= fit_max, "B", "C"))
    digit = np.where(
        3 * engagement >= 2 * engagement_max,
        "1",
        np.where(3 * engagement >= engagement_max, "2", "3"),
    )
    return pd.Series(np.char.add(letter, digit), index=frame.index, dtype="object")


@dataclass(frozen=True)
class FiredRule:
    group: str
    rule: str
    points: float


def fired_rules(model: ScoringModel, row: Mapping[str, Any]) -> list[FiredRule]:
    """The rules that gave points (non-zero) in a row of `rule_frame` or `rule_values`."""
    fired: list[FiredRule] = []
    for index, group in enumerate(model.groups):
        for rule in group.rules:
            points = float(row[rule_column(rule)])
            if round(points, 2) != 0:  # a touch decayed to nothing has not "fired"
                fired.append(FiredRule(group.name, rule.name, points))
        if group.stage_points:
            points = float(row[stage_column(index)])
            if round(points, 2) != 0:
                fired.append(FiredRule(group.name, f"stage = {row.get('stage')}", points))
    return fired


def group_points(model: ScoringModel, row: Mapping[str, Any]) -> dict[str, float]:
    return {group.name: float(row[group_column(i)]) for i, group in enumerate(model.groups)}


def rule_values(
    model: ScoringModel, values: Mapping[str, Any], types: Mapping[str, FieldType]
) -> dict[str, Any]:
    """One contact's row of `rule_frame`, from its fields (`features.fields_of_one`, with
    the model's `interaction_sums`)."""
    row: dict[str, Any] = {"contact_id": values["contact_id"], "stage": values.get("stage")}
    totals: list[float] = []
    for index, group in enumerate(model.groups):
        total = 0.0
        for rule in group.rules:
            points = rule.points
            if rule.interactions:
                points *= float(values[interaction_sum(rule).name])
            if rule.when is not None and not rule.when.evaluate(values, types):
                points = 0.0
            if rule.cap is not None:
                points = min(max(points, -rule.cap), rule.cap)
            row[rule_column(rule)] = points
            total += points
        if group.stage_points:
            points = group.stage_points.get(values.get("stage") or "", 0.0)
            row[stage_column(index)] = points
            total += points
        clipped = min(max(total, -group.max), group.max)
        row[group_column(index)] = clipped
        totals.append(clipped)
    row["score"] = min(max(sum(totals), 0.0), model.max_score)
    groups = group_points(model, row)
    row["grade"] = grade_of(model, groups.get(FIT_GROUP), groups.get(ENGAGEMENT_GROUP))
    return row
