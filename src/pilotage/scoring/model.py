"""Rule-based scoring models, written in TOML (scoring.md section 1).

    name = "default"
    max_score = 100
    [[group]]
    name = "fit"
    max = 40
      [[group.rule]]
      when = "industry in ['retail', 'software']"
      points = 15

A rule has `points` (may be negative) and at least one of:
- `when`: a condition on the contact's fields (`pilotage.scoring.expressions`); alone, the
  rule gives its points once when the condition holds;
- `interaction`: an interaction type (or a list of types); the rule gives its points for
  every such interaction up to `as_of`, each decayed by `0.5 ** (age_days / half_life_days)`
  when `half_life_days` is set, counting only the last `within_days` days when set. With
  `when` too, it only applies to contacts matching the condition.
`max` caps a rule's total (its absolute value, for negative points); `name` labels it
(default: its condition or interaction). A group may also give `stage_points` for the
latest journey stage reached. Group totals are clipped to [-max, max], the sum to
[0, max_score].

A model that does not parse, has an unknown key, or a condition that is wrong or names an
unknown field is refused with `file:line:column: reason`, the column pointing inside the
condition.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pilotage.scoring.expressions import (
    Expression,
    ExpressionError,
    FieldType,
    parse_expression,
)

DEFAULT_MODEL_RESOURCE = "default_model.toml"

_MODEL_KEYS = {"name", "version", "max_score", "description", "group"}
_GROUP_KEYS = {"name", "max", "rule", "stage_points", "description"}
_RULE_KEYS = {"name", "when", "interaction", "points", "half_life_days", "max", "within_days"}


class ModelError(ValueError):
    """A scoring model is refused; `problems` are `origin:line:column: reason` lines."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Rule:
    group: str
    index: int  # 0-based position in its group
    name: str
    points: float
    when: Expression | None = None
    interactions: tuple[str, ...] = ()
    half_life_days: float | None = None
    within_days: float | None = None
    cap: float | None = None
    # Where the condition text starts in the model file (1-based), for error positions.
    when_line: int | None = None
    when_column: int | None = None

    @property
    def key(self) -> str:
        """A column-safe identifier of the rule inside the model."""
        return f"{_slug(self.group)}__{self.index}"


@dataclass(frozen=True)
class Group:
    name: str
    max: float
    rules: tuple[Rule, ...] = ()
    stage_points: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoringModel:
    name: str
    max_score: float
    groups: tuple[Group, ...]
    version: str = "1"
    origin: str = "<model>"
    text: str = ""

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(rule for group in self.groups for rule in group.rules)

    def group(self, name: str) -> Group | None:
        return next((g for g in self.groups if g.name == name), None)

    @property
    def field_names(self) -> frozenset[str]:
        names: set[str] = set()
        for rule in self.rules:
            if rule.when is not None:
                names |= rule.when.names
        return frozenset(names)

    def check_fields(self, fields: Mapping[str, FieldType]) -> None:
        """Refuse conditions naming unknown fields or mixing types (every problem)."""
        problems = []
        for rule in self.rules:
            if rule.when is None:
                continue
            try:
                rule.when.check(fields)
            except ExpressionError as error:
                problems.append(self._where(rule, error))
        if problems:
            raise ModelError(problems)

    def _where(self, rule: Rule, error: ExpressionError) -> str:
        return _position(self.origin, rule, error)


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-zA-Z_]", "_", text)


def _position(origin: str, rule: Rule, error: ExpressionError) -> str:
    where = f"group {rule.group!r}, rule {rule.index + 1} ({rule.name})"
    if rule.when_line is None or rule.when_column is None:
        return f"{origin}: {where}: condition {error.line}:{error.column}: {error.reason}"
    line = rule.when_line + error.line - 1
    column = (rule.when_column if error.line == 1 else 1) + error.column - 1
    return f"{origin}:{line}:{column}: {where}: {error.reason}"


def load_model(path: Path) -> ScoringModel:
    """A scoring model from a TOML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError([f"{path}: no such scoring model file"]) from None
    return parse_model(text, origin=str(path))


def default_model() -> ScoringModel:
    """The model that ships with Pilotage (`pilotage/scoring/default_model.toml`)."""
    text = resources.files("pilotage.scoring").joinpath(DEFAULT_MODEL_RESOURCE).read_text("utf-8")
    return parse_model(text, origin=DEFAULT_MODEL_RESOURCE)


def parse_model(text: str, *, origin: str = "<model>") -> ScoringModel:
    """Parse and check a model's text (syntax, keys, values, condition syntax). Field
    names are checked against a source with `ScoringModel.check_fields`."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if found:
            reason = message[: found.start()].strip()
            raise ModelError([f"{origin}:{found.group(1)}:{found.group(2)}: {reason}"]) from None
        raise ModelError([f"{origin}: {message}"]) from None
    problems: list[str] = []
    locations = _rule_locations(text)
    unknown = sorted(set(document) - _MODEL_KEYS)
    if unknown:
        problems.append(f"{origin}: unknown key {unknown[0]!r} (known: {sorted(_MODEL_KEYS)})")
    name = document.get("name", "model")
    if not isinstance(name, str) or not name:
        problems.append(f"{origin}: name must be text")
        name = "model"
    version = str(document.get("version", "1"))
    max_score = document.get("max_score", 100)
    if not _is_number(max_score) or max_score <= 0:
        problems.append(f"{origin}: max_score must be a positive number")
        max_score = 100
    raw_groups = document.get("group", [])
    if not isinstance(raw_groups, list) or not raw_groups:
        problems.append(f"{origin}: a model needs at least one [[group]]")
        raw_groups = []
    groups: list[Group] = []
    seen: set[str] = set()
    for group_index, raw in enumerate(raw_groups):
        group = _parse_group(raw, group_index, origin, locations, problems)
        if group is None:
            continue
        if group.name in seen:
            problems.append(f"{origin}: group {group.name!r} is defined twice")
        seen.add(group.name)
        groups.append(group)
    if problems:
        raise ModelError(problems)
    return ScoringModel(str(name), float(max_score), tuple(groups), version, origin, text)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_group(
    raw: Any,
    group_index: int,
    origin: str,
    locations: dict[tuple[int, int], tuple[int, int]],
    problems: list[str],
) -> Group | None:
    label = f"{origin}: group {group_index + 1}"
    if not isinstance(raw, dict):
        problems.append(f"{label}: must be a table")
        return None
    unknown = sorted(set(raw) - _GROUP_KEYS)
    if unknown:
        problems.append(f"{label}: unknown key {unknown[0]!r} (known: {sorted(_GROUP_KEYS)})")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{label}: needs a name")
        return None
    label = f"{origin}: group {name!r}"
    maximum: Any = raw.get("max")
    if not _is_number(maximum) or maximum <= 0:
        problems.append(f"{label}: max must be a positive number")
        maximum = 1
    stage_points: dict[str, float] = {}
    raw_stages = raw.get("stage_points", {})
    if not isinstance(raw_stages, dict):
        problems.append(f"{label}: stage_points must be a table {{stage = points}}")
    else:
        for stage, points in raw_stages.items():
            if not _is_number(points):
                problems.append(f"{label}: stage_points.{stage} must be a number")
            else:
                stage_points[stage] = float(points)
    rules: list[Rule] = []
    raw_rules = raw.get("rule", [])
    if not isinstance(raw_rules, list):
        problems.append(f"{label}: rule must be a list of [[group.rule]]")
        raw_rules = []
    for rule_index, raw_rule in enumerate(raw_rules):
        rule = _parse_rule(
            raw_rule, name, rule_index, origin, locations.get((group_index, rule_index)), problems
        )
        if rule is not None:
            rules.append(rule)
    if not raw_rules and not stage_points:
        problems.append(f"{label}: has neither rules nor stage_points")
    return Group(name, float(maximum), tuple(rules), stage_points)


def _parse_rule(
    raw: Any,
    group: str,
    index: int,
    origin: str,
    location: tuple[int, int] | None,
    problems: list[str],
) -> Rule | None:
    label = f"{origin}: group {group!r}, rule {index + 1}"
    if not isinstance(raw, dict):
        problems.append(f"{label}: must be a table")
        return None
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        problems.append(f"{label}: unknown key {unknown[0]!r} (known: {sorted(_RULE_KEYS)})")
    points: Any = raw.get("points")
    if not _is_number(points):
        problems.append(f"{label}: points must be a number")
        return None
    when_text = raw.get("when")
    raw_interaction = raw.get("interaction")
    if when_text is None and raw_interaction is None:
        problems.append(f"{label}: needs `when` (a condition) or `interaction` (a type)")
        return None
    interactions: tuple[str, ...] = ()
    if raw_interaction is not None:
        if isinstance(raw_interaction, str):
            interactions = (raw_interaction,)
        elif isinstance(raw_interaction, list) and all(isinstance(t, str) for t in raw_interaction):
            interactions = tuple(raw_interaction)
        else:
            problems.append(f"{label}: interaction must be a type or a list of types")
    numbers: dict[str, float | None] = {}
    for key in ("half_life_days", "within_days", "max"):
        value = raw.get(key)
        if value is not None and (not _is_number(value) or value <= 0):
            problems.append(f"{label}: {key} must be a positive number")
            value = None
        numbers[key] = float(value) if value is not None else None
    if not interactions and (numbers["half_life_days"] or numbers["within_days"]):
        problems.append(f"{label}: half_life_days and within_days need `interaction`")
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        problems.append(f"{label}: name must be text")
        name = None
    if name is None:
        name = when_text if isinstance(when_text, str) else ", ".join(interactions)
        if interactions and isinstance(when_text, str):
            name = f"{', '.join(interactions)} if {when_text}"
    line, column = location if location else (None, None)
    rule = Rule(
        group=group,
        index=index,
        name=str(name),
        points=float(points),
        interactions=interactions,
        half_life_days=numbers["half_life_days"],
        within_days=numbers["within_days"],
        cap=numbers["max"],
        when_line=line,
        when_column=column,
    )
    if when_text is not None:
        if not isinstance(when_text, str):
            problems.append(f"{label}: when must be text")
            return None
        try:
            expression = parse_expression(when_text)
        except ExpressionError as error:
            problems.append(_position(origin, rule, error))
            return None
        rule = Rule(**{**rule.__dict__, "when": expression})
    return rule


_HEADER = re.compile(r"^\s*\[\[\s*(group(?:\s*\.\s*rule)?)\s*\]\]")
_WHEN = re.compile(r"""^(\s*when\s*=\s*)(["']{1,3})""")


def _rule_locations(text: str) -> dict[tuple[int, int], tuple[int, int]]:
    """(group index, rule index) -> (line, column) of the first character of the rule's
    `when` text in the file, for the usual layout of [[group]] / [[group.rule]] tables."""
    locations: dict[tuple[int, int], tuple[int, int]] = {}
    group = -1
    rule = -1
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            if header.group(1).replace(" ", "") == "group":
                group += 1
                rule = -1
            else:
                rule += 1
            continue
        when = _WHEN.match(line)
        if when and group >= 0 and rule >= 0:
            locations[(group, rule)] = (number, len(when.group(0)) + 1)
    return locations
