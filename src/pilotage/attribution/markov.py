"""The data-driven model: first-order absorbing Markov chain with exact removal effects
(attribution.md, "Data-driven model").

The transition counts are aggregated by the engine (Ibis: one window `lead` over every
path, converted or not); only the small matrix of counts per period comes back to Python,
where the absorbing chain is solved exactly with linear algebra.

Removal effect without one solve per state: with N = (I - Q)^-1 the fundamental matrix of
the transient states and p = N r the probability of ending in `(conversion)` from each
state, a walk from `(start)` either never visits x (and converts with the same probability
as in the chain where x is removed) or visits it, with probability h_x = N[s, x] / N[x, x],
and then converts with probability p_x (strong Markov property). Redirecting every
transition into x to `(null)` loses exactly the second part:
    P_without_x = P - h_x * p_x,  so  RE_x = 1 - P_without_x / P = h_x * p_x / P.
The tests check this against the literal definition (one chain per removed state).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from pilotage.attribution.paths import (
    CONVERSION,
    NULL,
    START,
    By,
    bucketed,
    converted_touches,
    key_column,
    null_touches,
    query_parts,
)
from pilotage.engine.backends import Source
from pilotage.engine.batches import run_kept
from pilotage.engine.periods import Period


class MarkovAttribution:
    """Exact removal-effect attribution of one absorbing chain.

    Fit on transition counts (from state, to state, count); self-loops are dropped.
    Learned values: `states_` (the channel or campaign states, sorted),
    `conversion_probability_` (P from `(start)`), `removal_effects_` and `shares_`
    (RE_x / sum RE; they sum to 1 when P > 0, and are all 0 when nothing converts),
    `conversions_` (transitions into `(conversion)`, i.e. converted paths).
    """

    def __init__(self) -> None:
        self.states_: list[str] = []
        self.conversion_probability_: float = 0.0
        self.removal_effects_: dict[str, float] = {}
        self.shares_: dict[str, float] = {}
        self.conversions_: float = 0.0

    def fit(self, transitions: Iterable[tuple[str, str, float]]) -> MarkovAttribution:
        counts: dict[tuple[str, str], float] = {}
        for source_state, target_state, count in transitions:
            if source_state == target_state or count <= 0:
                continue  # self-loops are dropped (A > A carries no information)
            if source_state in (CONVERSION, NULL):
                raise ValueError(f"{source_state} is absorbing: no transition leaves it")
            if target_state == START:
                raise ValueError(f"no transition may enter {START}")
            pair = (source_state, target_state)
            counts[pair] = counts.get(pair, 0.0) + float(count)
        names = {s for pair in counts for s in pair} - {START, CONVERSION, NULL}
        self.states_ = sorted(names)
        self.conversions_ = sum(c for (_, target), c in counts.items() if target == CONVERSION)
        transient = [START, *self.states_]
        index = {state: i for i, state in enumerate(transient)}
        size = len(transient)
        to_transient = np.zeros((size, size))
        to_conversion = np.zeros(size)
        to_null = np.zeros(size)
        for (source_state, target_state), count in counts.items():
            row = index[source_state]
            if target_state == CONVERSION:
                to_conversion[row] += count
            elif target_state == NULL:
                to_null[row] += count
            else:
                to_transient[row, index[target_state]] += count
        totals = to_transient.sum(axis=1) + to_conversion + to_null
        if totals[0] == 0 or self.conversions_ == 0:
            self.conversion_probability_ = 0.0
            self.removal_effects_ = dict.fromkeys(self.states_, 0.0)
            self.shares_ = dict.fromkeys(self.states_, 0.0)
            return self
        # Every observed state has an observed way out (each path ends in an absorbing
        # state), so no row total is 0 and I - Q is invertible.
        q = to_transient / totals[:, None]
        r = to_conversion / totals
        # numpy's inverse (LAPACK, as scipy's): importing scipy.linalg costs 0.15 s,
        # paid by the first campaign breakdown of a process, which imports this module.
        fundamental = np.linalg.inv(np.eye(size) - q)
        reach_conversion = fundamental @ r
        probability = float(reach_conversion[0])
        self.conversion_probability_ = probability
        effects: dict[str, float] = {}
        for state in self.states_:
            i = index[state]
            visit = fundamental[0, i] / fundamental[i, i]
            effect = visit * reach_conversion[i] / probability
            effects[state] = float(min(max(effect, 0.0), 1.0))
        self.removal_effects_ = effects
        total_effect = sum(effects.values())
        self.shares_ = {state: effect / total_effect for state, effect in effects.items()}
        return self

    def credits(self) -> dict[str, float]:
        """Attributed conversions per state: conversions x RE_x / sum RE."""
        return {state: self.conversions_ * share for state, share in self.shares_.items()}


def transition_counts(
    source: Source, by: By, periods: list[Period], as_of: datetime | None = None
) -> ir.Table:
    """Observed transitions per period: period, from_state, to_state, transitions.

    Converted paths belong to the period of their conversion, null paths to the period
    of their last touch; a path starts at `(start)` and ends in `(conversion)` or
    `(null)`. Self-loops are left out here already (the chain drops them).
    """
    key = key_column(by)
    steps_columns = ("contact_id", "period", "occurred_at", "interaction_id", key)
    converted = bucketed(converted_touches(source, as_of), "converted_at", periods)
    lost = bucketed(null_touches(source, as_of), "ended_at", periods)
    steps = ibis.union(
        converted.select(*steps_columns, end_state=ibis.literal(CONVERSION)),
        lost.select(*steps_columns, end_state=ibis.literal(NULL)),
    )
    # One ordered window gives each touch the state before it ((start) for the first)
    # and tells the last touch, which also moves to the path's end state.
    order = ibis.window(group_by="contact_id", order_by=["occurred_at", "interaction_id"])
    marked = steps.select(
        "period",
        "end_state",
        state=steps[key],
        previous=steps[key].lag().over(order),
        is_last=steps[key].lead().over(order).isnull(),
    )
    incoming = marked.select(
        "period",
        from_state=ibis.coalesce(marked.previous, ibis.literal(START)),
        to_state=marked.state,
    )
    outgoing = marked.filter(marked.is_last).select(
        "period", from_state=marked.state, to_state=marked.end_state
    )
    every = ibis.union(incoming, outgoing)
    every = every.filter(every.from_state != every.to_state)
    return every.group_by("period", "from_state", "to_state").aggregate(transitions=every.count())


def fit_by_period(counts: pd.DataFrame) -> dict[str, MarkovAttribution]:
    """One fitted chain per period label of an executed `transition_counts` frame."""
    chains: dict[str, MarkovAttribution] = {}
    for period, rows in counts.groupby("period", sort=True):
        triples = zip(
            rows["from_state"].astype(str),
            rows["to_state"].astype(str),
            rows["transitions"].astype(float),
            strict=True,
        )
        chains[str(period)] = MarkovAttribution().fit(triples)
    return chains


def markov_shares(
    source: Source, by: By, periods: list[Period], as_of: datetime | None = None
) -> pd.DataFrame:
    """Per period and state: period, <campaign_id|channel>, share (RE_x / sum RE),
    removal_effect, and the period's chain `conversions` (converted paths)."""
    key = key_column(by)
    counts = run_kept(
        source,
        "markov transitions",
        query_parts(by, periods, as_of),
        lambda: transition_counts(source, by, periods, as_of),
    )
    records: list[dict[str, object]] = []
    for period, chain in fit_by_period(counts).items():
        for state, share in chain.shares_.items():
            if share > 0:
                records.append(
                    {
                        "period": period,
                        key: state,
                        "share": share,
                        "removal_effect": chain.removal_effects_[state],
                        "conversions": chain.conversions_,
                    }
                )
    frame = pd.DataFrame.from_records(
        records, columns=["period", key, "share", "removal_effect", "conversions"]
    )
    return frame.astype(
        {
            "period": "string",
            key: "string",
            "share": "float64",
            "removal_effect": "float64",
            "conversions": "float64",
        }
    )
