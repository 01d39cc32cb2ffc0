"""Attribution (attribution.md): who gets the credit of each conversion, and what each
campaign and channel costs and returns (kpis.md "Acquisition cost and return",
"Recommendations (levers)").

- `credits(source, model, by)`: an Ibis table, one row per (conversion, campaign or
  channel) with its credit; the credits of a conversion sum to 1.
- `attribute(source, model, by, grain, start, end, as_of)`: conversions, revenue, spend,
  CAC, ROAS and ROI per (model, period, campaign or channel).
- `levers(source, start, end)`: scale / cut / watch per channel and campaign.
- `MarkovAttribution`: the exact removal-effect chain, on transition counts.
"""

import sys
import types
from typing import Any

from pilotage.attribution.credits import MODELS, Model, credits
from pilotage.attribution.levers import Lever, LeversResult, levers
from pilotage.attribution.markov import MarkovAttribution, markov_shares, transition_counts
from pilotage.attribution.paths import (
    DIRECT,
    By,
    converted_paths,
    direct_conversions,
    null_paths,
    touchpoints,
)
from pilotage.attribution.report import AttributionResult, AttributionRow, attribute
from pilotage.attribution.rules import RULE_MODELS

__all__ = [
    "DIRECT",
    "MODELS",
    "RULE_MODELS",
    "AttributionResult",
    "AttributionRow",
    "By",
    "Lever",
    "LeversResult",
    "MarkovAttribution",
    "Model",
    "attribute",
    "converted_paths",
    "credits",
    "direct_conversions",
    "levers",
    "markov_shares",
    "null_paths",
    "touchpoints",
    "transition_counts",
]


class _CallableModule(types.ModuleType):
    """`pilotage.attribution(source, model="markov")` is `attribute(...)` (interfaces.md),
    while `pilotage.attribution.credits` and the rest stay reachable as a module."""

    def __call__(self, *args: Any, **kwargs: Any) -> AttributionResult:
        return attribute(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
