"""The Markov removal-effect model: the hand example, the exact solution, the rules."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from attribution_helpers import assert_credits, build_source, credits_of

from pilotage.attribution import MarkovAttribution, attribute, markov_shares, transition_counts
from pilotage.contract.settings import Settings
from pilotage.engine.periods import periods_between

# The brief's example. Three contacts, all in 2024-Q1:
#   a: c1 > c2 > c3 > (conversion)
#   p: c1 > (null)
#   q: c2 > c3 > (null)
# Transition counts:   (start)->c1 2, (start)->c2 1, c1->c2 1, c1->(null) 1,
#                       c2->c3 2, c3->(conversion) 1, c3->(null) 1.
# Probabilities:       (start): c1 2/3, c2 1/3;  c1: c2 1/2, null 1/2;  c2: c3 1;
#                       c3: conversion 1/2, null 1/2.
# Conversion probability from each state: p(c3) = 1/2; p(c2) = p(c3) = 1/2;
#   p(c1) = 1/2 p(c2) = 1/4;  P = p(start) = 2/3 * 1/4 + 1/3 * 1/2 = 1/6 + 1/6 = 1/3.
# Removals (transitions into x go to (null)):
#   without c1: P = 1/3 * p(c2) = 1/3 * 1/2 = 1/6  -> RE = 1 - (1/6)/(1/3) = 1/2
#   without c2: c1->c2 and start->c2 go to null, nothing reaches c3: P = 0 -> RE = 1
#   without c3: c2->c3 goes to null: P = 0 -> RE = 1
# Sum RE = 2.5; one conversion: c1 = 0.5/2.5 = 0.2, c2 = 1/2.5 = 0.4, c3 = 0.4.
# This agrees with the brief's 0.2 / 0.4 / 0.4 (there are no self-loops to drop here).
Q1 = date(2024, 1, 1)
EXAMPLE_TOUCHES = [
    ("i1", "a", "2024-02-01 00:00:00", "c1"),
    ("i2", "a", "2024-02-02 00:00:00", "c2"),
    ("i3", "a", "2024-02-03 00:00:00", "c3"),
    ("i4", "p", "2024-02-01 00:00:00", "c1"),
    ("i5", "q", "2024-02-01 00:00:00", "c2"),
    ("i6", "q", "2024-02-02 00:00:00", "c3"),
]
EXAMPLE_ORDERS = [("a", "2024-02-04 00:00:00", 100.0)]
EXAMPLE_COUNTS = [
    ("(start)", "c1", 2),
    ("(start)", "c2", 1),
    ("c1", "c2", 1),
    ("c1", "(null)", 1),
    ("c2", "c3", 2),
    ("c3", "(conversion)", 1),
    ("c3", "(null)", 1),
]


def test_hand_example_chain():
    chain = MarkovAttribution().fit(EXAMPLE_COUNTS)
    assert chain.conversion_probability_ == pytest.approx(1 / 3)
    assert chain.removal_effects_ == pytest.approx({"c1": 0.5, "c2": 1.0, "c3": 1.0})
    assert chain.shares_ == pytest.approx({"c1": 0.2, "c2": 0.4, "c3": 0.4})
    assert chain.credits() == pytest.approx({"c1": 0.2, "c2": 0.4, "c3": 0.4})


def test_hand_example_end_to_end():
    source = build_source(EXAMPLE_TOUCHES, EXAMPLE_ORDERS)
    periods = periods_between(Q1, Q1, "quarter", source.settings)
    counts = source.execute(transition_counts(source, "campaign", periods))
    observed = sorted(
        (r["from_state"], r["to_state"], int(r["transitions"])) for r in counts.to_dict("records")
    )
    assert observed == sorted(EXAMPLE_COUNTS)
    assert_credits(
        credits_of(source, "markov"), {("a", "c1"): 0.2, ("a", "c2"): 0.4, ("a", "c3"): 0.4}
    )
    shares = markov_shares(source, "campaign", periods)
    assert dict(zip(shares["campaign_id"], shares["removal_effect"], strict=True)) == (
        pytest.approx({"c1": 0.5, "c2": 1.0, "c3": 1.0})
    )


def test_null_paths_matter():
    # Without p and q (no null paths) every state is on the only path: RE = 1 each, 1/3.
    only_a = [t for t in EXAMPLE_TOUCHES if t[1] == "a"]
    source = build_source(only_a, EXAMPLE_ORDERS)
    expected = {("a", "c1"): 1 / 3, ("a", "c2"): 1 / 3, ("a", "c3"): 1 / 3}
    assert_credits(credits_of(source, "markov"), expected)


def test_self_loops_are_dropped():
    # a: c1 > c1 > c2 > conv and b: c1 > (null). The c1 > c1 transition is dropped, so
    # the chain is (start)->c1 2; c1->c2 1, c1->null 1; c2->conv 1:
    # P = 1/2; without c1: 0 (RE 1); without c2: 0 (RE 1): 0.5 / 0.5.
    # Kept, c1->c1 (1 of 3 transitions out of c1) would change nothing in P here but it
    # must not appear in the counts at all.
    touches = [
        ("i1", "a", "2024-02-01 00:00:00", "c1"),
        ("i2", "a", "2024-02-02 00:00:00", "c1"),
        ("i3", "a", "2024-02-03 00:00:00", "c2"),
        ("i4", "b", "2024-02-01 00:00:00", "c1"),
    ]
    source = build_source(touches, [("a", "2024-02-04 00:00:00", 10.0)])
    periods = periods_between(Q1, Q1, "quarter", source.settings)
    counts = source.execute(transition_counts(source, "campaign", periods))
    assert not (counts["from_state"] == counts["to_state"]).any()
    assert_credits(credits_of(source, "markov"), {("a", "c1"): 0.5, ("a", "c2"): 0.5})
    # The fitted chain drops self-loops it is given as well.
    with_loop = MarkovAttribution().fit(
        [("(start)", "A", 1), ("A", "A", 5), ("A", "B", 1), ("B", "(conversion)", 1)]
    )
    without = MarkovAttribution().fit(
        [("(start)", "A", 1), ("A", "B", 1), ("B", "(conversion)", 1)]
    )
    assert with_loop.shares_ == without.shares_


def test_by_channel_merges_campaigns_of_a_channel():
    # c1 and c4 are both on web: a's path c1 > c4 > c2 is web > web > email by channel,
    # the web > web self-loop is dropped: (start)->web, web->email, email->conv; with b:
    # web > (null): (start)->web 2, web->email 1, web->null 1, email->conv 1.
    # P = 1/2, RE(web) = RE(email) = 1: 0.5 / 0.5.
    touches = [
        ("i1", "a", "2024-02-01 00:00:00", "c1"),
        ("i2", "a", "2024-02-02 00:00:00", "c4"),
        ("i3", "a", "2024-02-03 00:00:00", "c2"),
        ("i4", "b", "2024-02-01 00:00:00", "c4"),
    ]
    source = build_source(touches, [("a", "2024-02-04 00:00:00", 10.0)])
    assert_credits(
        credits_of(source, "markov", "channel"), {("a", "web"): 0.5, ("a", "email"): 0.5}
    )


def test_each_period_has_its_own_chain():
    # Q1: the hand example; Q2: one conversion on c2 only (path c2 > conv): c2 gets 1.
    # The null path of r (last touch in Q2) belongs to Q2 although it starts in Q1:
    # Q2: (start)->c2 1, c2->conv 1, (start)->c1 1, c1->null 1: RE(c2) = 1, RE(c1) = 0.
    touches = [
        *EXAMPLE_TOUCHES,
        ("j1", "z", "2024-05-01 00:00:00", "c2"),
        ("j2", "r", "2024-03-30 00:00:00", "c1"),
        ("j3", "r", "2024-04-02 00:00:00", "c1"),
    ]
    orders = [*EXAMPLE_ORDERS, ("z", "2024-05-02 00:00:00", 40.0)]
    source = build_source(touches, orders)
    assert_credits(
        credits_of(source, "markov"),
        {("a", "c1"): 0.2, ("a", "c2"): 0.4, ("a", "c3"): 0.4, ("z", "c2"): 1.0},
    )
    result = attribute(source, "markov", "campaign", "quarter")
    # revenue: a's 100 shared 0.2 / 0.4 / 0.4; z's 40 all to c2
    table = [(row.period, row.key, row.conversions, row.revenue) for row in result.rows]
    assert sorted(table) == [
        ("2024-Q1", "c1", pytest.approx(0.2), pytest.approx(20.0)),
        ("2024-Q1", "c2", pytest.approx(0.4), pytest.approx(40.0)),
        ("2024-Q1", "c3", pytest.approx(0.4), pytest.approx(40.0)),
        ("2024-Q2", "c2", pytest.approx(1.0), pytest.approx(40.0)),
    ]


def literal_removal_effects(counts: list[tuple[str, str, float]]) -> dict[str, float]:
    """RE by the definition: one absorbing chain per removed state, redirected to null."""
    counts = [(a, b, c) for a, b, c in counts if a != b]
    states = sorted(
        {s for a, b, _ in counts for s in (a, b)} - {"(start)", "(conversion)", "(null)"}
    )
    names = ["(start)", *states, "(conversion)", "(null)"]
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)))
    for a, b, c in counts:
        matrix[index[a], index[b]] += c
    matrix = matrix / np.where(matrix.sum(axis=1) == 0, 1, matrix.sum(axis=1))[:, None]

    def conversion_probability(removed: str | None) -> float:
        m = matrix.copy()
        if removed is not None:
            r = index[removed]
            m[:, index["(null)"]] += m[:, r]
            m[:, r] = 0.0
            m[r, :] = 0.0
        t = len(states) + 1  # transient: (start) and the states
        q = m[:t, :t]
        r_conv = m[:t, index["(conversion)"]]
        return float(np.linalg.solve(np.eye(t) - q, r_conv)[0])

    total = conversion_probability(None)
    return {s: 1 - conversion_probability(s) / total for s in states}


@pytest.mark.parametrize("seed", range(8))
def test_fundamental_matrix_formula_matches_the_definition(seed):
    # Random chains with cycles (A > B > A ...) and self-loops.
    rng = np.random.default_rng(seed)
    states = [f"s{i}" for i in range(int(rng.integers(2, 7)))]
    counts: list[tuple[str, str, float]] = []
    for source_state in ["(start)", *states]:
        for target in [*states, "(conversion)", "(null)"]:
            if source_state == "(start)" and target in ("(conversion)", "(null)"):
                continue
            if rng.random() < 0.6:
                counts.append((source_state, target, float(rng.integers(1, 20))))
        if source_state != "(start)":
            counts.append((source_state, "(null)", 1.0))  # every state can end
    counts.append(("(start)", states[0], 1.0))
    counts.append((states[-1], "(conversion)", 1.0))
    chain = MarkovAttribution().fit(counts)
    expected = literal_removal_effects(counts)
    for state in chain.states_:
        assert chain.removal_effects_[state] == pytest.approx(expected[state], abs=1e-9)
    assert sum(chain.shares_.values()) == pytest.approx(1.0)


def test_deterministic_and_nothing_converts():
    counts = [("(start)", "A", 3), ("A", "(null)", 3)]
    chain = MarkovAttribution().fit(counts)
    assert chain.conversion_probability_ == 0.0
    assert chain.shares_ == {"A": 0.0}
    source = build_source(EXAMPLE_TOUCHES, EXAMPLE_ORDERS)
    first = credits_of(source, "markov")
    assert credits_of(source, "markov") == first


def test_markov_settings_lookback_applies_to_null_paths():
    # L = 5 days: p's touch on 01-20 is more than 5 days before its last touch (02-01),
    # so its null path is just c1 > (null), exactly as in the hand example.
    touches = [*EXAMPLE_TOUCHES, ("i9", "p", "2024-01-20 00:00:00", "c3")]
    source = build_source(touches, EXAMPLE_ORDERS, settings=Settings(attribution_lookback_days=5))
    assert_credits(
        credits_of(source, "markov"), {("a", "c1"): 0.2, ("a", "c2"): 0.4, ("a", "c3"): 0.4}
    )
