"""The five rule-based models on hand-made paths, the expected credits written out."""

from __future__ import annotations

import pytest
from attribution_helpers import assert_credits, build_source, credits_of

from pilotage.contract.settings import Settings

# Customer "a" converts at 2024-03-10 12:00 (first paid order). Its four touchpoints, in
# time order: c1 (03-01 00:00), c2 (03-03 00:00), c1 again (03-08 00:00), c3 exactly at the
# conversion instant (03-10 12:00, inside [c - L, c]). n = 4, and c1 has two touches.
# Ages at conversion: 9.5, 7.5, 2.5 and 0 days.
PATH_A = [
    ("i1", "a", "2024-03-01 00:00:00", "c1"),
    ("i2", "a", "2024-03-03 00:00:00", "c2"),
    ("i3", "a", "2024-03-08 00:00:00", "c1"),
    ("i4", "a", "2024-03-10 12:00:00", "c3"),
]
ORDER_A = ("a", "2024-03-10 12:00:00", 100.0)


@pytest.fixture(scope="module")
def source_a():
    return build_source(PATH_A, [ORDER_A])


def test_first_touch_gives_everything_to_the_first_touch(source_a):
    # k = 1 is c1 (03-01): 1; the others 0 (zero credits are not rows).
    assert_credits(credits_of(source_a, "first_touch"), {("a", "c1"): 1.0})


def test_last_touch_gives_everything_to_the_last_touch(source_a):
    # k = n = 4 is c3, at the conversion instant: 1.
    assert_credits(credits_of(source_a, "last_touch"), {("a", "c3"): 1.0})


def test_linear_counts_repeated_touches(source_a):
    # 1/n = 1/4 per touch; c1 has two touches: 2/4 = 0.5; c2 0.25; c3 0.25.
    assert_credits(
        credits_of(source_a, "linear"), {("a", "c1"): 0.5, ("a", "c2"): 0.25, ("a", "c3"): 0.25}
    )


def test_position_based_40_20_40(source_a):
    # n = 4 >= 3: first 0.4, last 0.4, the n - 2 = 2 middle ones 0.2 / 2 = 0.1 each.
    # c1 = 0.4 (k=1) + 0.1 (k=3) = 0.5; c2 = 0.1 (k=2); c3 = 0.4 (k=4).
    assert_credits(
        credits_of(source_a, "position_based"),
        {("a", "c1"): 0.5, ("a", "c2"): 0.1, ("a", "c3"): 0.4},
    )


def test_time_decay_is_continuous_with_half_life(source_a):
    # H = 7 days. Weights 0.5^(age / 7):
    #   i1 0.5^(9.5/7) = 0.390355, i2 0.5^(7.5/7) = 0.475848,
    #   i3 0.5^(2.5/7) = 0.780709, i4 0.5^0 = 1; sum = 2.646911.
    # c1 = (0.390355 + 0.780709) / 2.646911 = 0.442427
    # c2 = 0.475848 / 2.646911 = 0.179775;  c3 = 1 / 2.646911 = 0.377799.
    actual = credits_of(source_a, "time_decay")
    assert set(actual) == {("a", "c1"), ("a", "c2"), ("a", "c3")}
    assert actual[("a", "c1")] == pytest.approx(0.442427, abs=1e-6)
    assert actual[("a", "c2")] == pytest.approx(0.179775, abs=1e-6)
    assert actual[("a", "c3")] == pytest.approx(0.377799, abs=1e-6)


def test_time_decay_half_life_setting():
    # Two touches 1 day and 3 days before conversion, H = 2 days:
    # weights 0.5^(3/2) = 0.353553 (c1) and 0.5^(1/2) = 0.707107 (c2), sum 1.060660:
    # c1 = 1/3 exactly (0.353553 / 1.060660), c2 = 2/3.
    source = build_source(
        [("i1", "a", "2024-03-07 00:00:00", "c1"), ("i2", "a", "2024-03-09 00:00:00", "c2")],
        [("a", "2024-03-10 00:00:00", 10.0)],
        settings=Settings(time_decay_half_life_days=2.0),
    )
    actual = credits_of(source, "time_decay")
    assert actual[("a", "c1")] == pytest.approx(1 / 3, abs=1e-9)
    assert actual[("a", "c2")] == pytest.approx(2 / 3, abs=1e-9)


def test_time_decay_never_underflows():
    # H = 0.001 day and touches 80 days apart: 0.5^(80 / 0.001) is 0 in floating point.
    # Weighing relative to the last touch keeps the sum at 1: all to the last touch.
    source = build_source(
        [("i1", "a", "2024-01-01 00:00:00", "c1"), ("i2", "a", "2024-03-20 00:00:00", "c2")],
        [("a", "2024-03-21 00:00:00", 10.0)],
        settings=Settings(time_decay_half_life_days=0.001),
    )
    assert_credits(credits_of(source, "time_decay"), {("a", "c2"): 1.0})


@pytest.mark.parametrize(
    ("touches", "expected"),
    [
        # n = 1: 1 to the only touch.
        ([("i1", "b", "2024-03-05 00:00:00", "c2")], {("b", "c2"): 1.0}),
        # n = 2: 0.5 / 0.5.
        (
            [("i1", "b", "2024-03-05 00:00:00", "c2"), ("i2", "b", "2024-03-06 00:00:00", "c3")],
            {("b", "c2"): 0.5, ("b", "c3"): 0.5},
        ),
        # n = 2 with the same campaign twice: 0.5 + 0.5 = 1.
        (
            [("i1", "b", "2024-03-05 00:00:00", "c2"), ("i2", "b", "2024-03-06 00:00:00", "c2")],
            {("b", "c2"): 1.0},
        ),
        # n = 3: 0.4 / 0.2 / 0.4.
        (
            [
                ("i1", "b", "2024-03-05 00:00:00", "c1"),
                ("i2", "b", "2024-03-06 00:00:00", "c2"),
                ("i3", "b", "2024-03-07 00:00:00", "c3"),
            ],
            {("b", "c1"): 0.4, ("b", "c2"): 0.2, ("b", "c3"): 0.4},
        ),
    ],
)
def test_position_based_short_paths(touches, expected):
    source = build_source(touches, [("b", "2024-03-08 00:00:00", 10.0)])
    assert_credits(credits_of(source, "position_based"), expected)


def test_by_channel_uses_the_campaigns_channel(source_a):
    # c1 -> web, c2 -> email, c3 -> ads (campaigns table), whatever the interaction says.
    # Linear by channel: web 0.5, email 0.25, ads 0.25.
    assert_credits(
        credits_of(source_a, "linear", "channel"),
        {("a", "web"): 0.5, ("a", "email"): 0.25, ("a", "ads"): 0.25},
    )
