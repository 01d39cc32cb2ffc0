"""Which touches make a path: the lookback window, ties, direct conversions, null paths."""

from __future__ import annotations

import pytest
from attribution_helpers import assert_credits, build_source, credits_of, utc

from pilotage.attribution import converted_paths, null_paths
from pilotage.contract.settings import Settings

# L = 90 days (the default). Conversion c = 2024-04-10 12:00:00, so c - L = 2024-01-11 12:00.


def test_lookback_window_is_inclusive_at_both_ends():
    source = build_source(
        [
            ("i1", "a", "2024-01-11 11:59:59", "c1"),  # one second before c - L: out
            ("i2", "a", "2024-01-11 12:00:00", "c2"),  # exactly c - L: in
            ("i3", "a", "2024-04-10 12:00:00", "c3"),  # exactly c: in
            ("i4", "a", "2024-04-10 12:00:01", "c4"),  # after c: out (and a/c has no other)
        ],
        [("a", "2024-04-10 12:00:00", 50.0)],
    )
    # first touch is i2 (c2), last touch i3 (c3): i1 and i4 are not in the path.
    assert_credits(credits_of(source, "first_touch"), {("a", "c2"): 1.0})
    assert_credits(credits_of(source, "last_touch"), {("a", "c3"): 1.0})
    assert_credits(credits_of(source, "linear"), {("a", "c2"): 0.5, ("a", "c3"): 0.5})


def test_lookback_setting_is_used():
    # L = 10 days: a touch 10 days and 1 second before c is out, 10 days exactly is in.
    source = build_source(
        [("i1", "a", "2024-03-31 11:59:59", "c1"), ("i2", "a", "2024-03-31 12:00:00", "c2")],
        [("a", "2024-04-10 12:00:00", 50.0)],
        settings=Settings(attribution_lookback_days=10),
    )
    assert_credits(credits_of(source, "linear"), {("a", "c2"): 1.0})


def test_ties_in_time_are_broken_by_interaction_id():
    # Two touches at the same instant: "i1" (c2) sorts before "i2" (c1) whatever the row
    # order, so c2 is first and c1 is last. IDs are compared as strings ("i10" < "i2").
    touches = [
        ("i2", "a", "2024-04-01 09:00:00", "c1"),
        ("i1", "a", "2024-04-01 09:00:00", "c2"),
    ]
    source = build_source(touches, [("a", "2024-04-02 00:00:00", 50.0)])
    assert_credits(credits_of(source, "first_touch"), {("a", "c2"): 1.0})
    assert_credits(credits_of(source, "last_touch"), {("a", "c1"): 1.0})
    source = build_source(
        [("i10", "a", "2024-04-01 09:00:00", "c1"), ("i2", "a", "2024-04-01 09:00:00", "c2")],
        [("a", "2024-04-02 00:00:00", 50.0)],
    )
    assert_credits(credits_of(source, "first_touch"), {("a", "c1"): 1.0})


def test_conversion_without_touchpoint_goes_to_direct_with_its_acquisition_channel():
    # b has no touch at all, d a touch 100 days before its conversion (outside L = 90),
    # e an interaction with an empty campaign_id (not a touchpoint).
    source = build_source(
        [("i1", "d", "2024-01-01 00:00:00", "c1"), ("i2", "e", "2024-04-01 00:00:00", "")],
        [
            ("b", "2024-04-10 00:00:00", 10.0),
            ("d", "2024-04-10 00:00:00", 10.0),
            ("e", "2024-04-10 00:00:00", 10.0),
        ],
        contacts={"b": "store", "d": "partner", "e": "phone"},
    )
    for model in ("first_touch", "time_decay", "markov"):
        assert_credits(
            credits_of(source, model),
            {("b", "(direct)"): 1.0, ("d", "(direct)"): 1.0, ("e", "(direct)"): 1.0},
        )
        # by channel, the (direct) credit goes to the contact's acquisition channel
        assert_credits(
            credits_of(source, model, "channel"),
            {("b", "store"): 1.0, ("d", "partner"): 1.0, ("e", "phone"): 1.0},
        )


def test_paths_are_ranked_with_their_length():
    source = build_source(
        [
            ("i1", "a", "2024-04-01 00:00:00", "c1"),
            ("i2", "a", "2024-04-02 00:00:00", "c1"),
            ("i3", "a", "2024-04-03 00:00:00", "c4"),
        ],
        [("a", "2024-04-05 00:00:00", 10.0)],
    )
    frame = source.execute(converted_paths(source)).sort_values("k")
    assert list(frame["k"]) == [1, 2, 3]
    assert list(frame["n"]) == [3, 3, 3]
    assert list(frame["campaign_id"]) == ["c1", "c1", "c4"]
    assert list(frame["channel"]) == ["web", "web", "web"]
    # seconds to the last touch, for time decay: 2 days, 1 day, 0
    assert list(frame["decay_seconds"]) == [172_800.0, 86_400.0, 0.0]


def test_null_paths_take_the_lookback_up_to_the_last_touch():
    # p never converts: touches on 01-01, 03-01 and 04-10 (last). Its null path keeps the
    # touches in [04-10 - 90 d, 04-10] = [01-11, 04-10]: 03-01 and 04-10, ended at 04-10.
    # a converts: it has no null path.
    source = build_source(
        [
            ("i1", "p", "2024-01-01 00:00:00", "c1"),
            ("i2", "p", "2024-03-01 00:00:00", "c2"),
            ("i3", "p", "2024-04-10 00:00:00", "c3"),
            ("i4", "a", "2024-04-01 00:00:00", "c1"),
        ],
        [("a", "2024-04-02 00:00:00", 10.0)],
    )
    frame = source.execute(null_paths(source)).sort_values("k")
    assert list(frame["contact_id"]) == ["p", "p"]
    assert list(frame["campaign_id"]) == ["c2", "c3"]
    assert list(frame["ended_at"]) == [utc(2024, 4, 10)] * 2


def test_as_of_hides_later_conversions_and_touches():
    # At as_of = 04-05, a has not converted yet (its order is on 04-10): no credit, and
    # its touch of 04-01 is a null path; b's touch after as_of is unknown.
    source = build_source(
        [("i1", "a", "2024-04-01 00:00:00", "c1"), ("i2", "b", "2024-04-06 00:00:00", "c2")],
        [("a", "2024-04-10 00:00:00", 10.0), ("b", "2024-04-03 00:00:00", 10.0)],
    )
    as_of = utc(2024, 4, 5)
    assert_credits(credits_of(source, "linear", as_of=as_of), {("b", "(direct)"): 1.0})
    frame = source.execute(null_paths(source, as_of))
    assert list(frame["contact_id"]) == ["a"]


@pytest.mark.parametrize("model", ["linear", "markov"])
def test_timezone_only_moves_period_boundaries(model):
    # In Europe/Paris, 2024-03-31 23:30 UTC is 2024-04-01 01:30 local: Q2, not Q1.
    # Rule-based credits ignore periods; Markov is fitted on Q2's paths.
    settings = Settings(timezone="Europe/Paris")
    source = build_source(
        [("i1", "a", "2024-03-31 23:00:00+00:00", "c1")],
        [("a", "2024-03-31 23:30:00+00:00", 10.0)],
        settings=settings,
    )
    from pilotage.attribution import attribute

    result = attribute(source, model, "campaign", "quarter")
    assert [(row.period, row.key, row.conversions) for row in result.rows] == [
        ("2024-Q2", "c1", 1.0)
    ]
