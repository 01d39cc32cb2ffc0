"""RFM quintiles with ties (scores by counts: ceil(5 k / N), ties share the higher score),
the edges that place one customer later exactly as in the batch, and segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from pilotage.scoring.rfm import edges, quintile_edges, quintile_scores, rfm_scores, segment_of


def test_quintiles_of_distinct_values():
    assert quintile_scores(np.array([10.0, 20, 30, 40, 50])).tolist() == [1, 2, 3, 4, 5]
    # Ten values: two per quintile.
    assert quintile_scores(np.arange(10.0)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_ties_share_the_higher_score():
    # Frequencies 1,1,1,1,5: k(1) = 4 of 5 -> ceil(5 x 4 / 5) = 4, not 1..4 spread.
    assert quintile_scores(np.array([1.0, 1, 1, 1, 5])).tolist() == [4, 4, 4, 4, 5]
    # Six values, three tied at the bottom: k = 3 -> ceil(15 / 6) = 3.
    assert quintile_scores(np.array([2.0, 2, 2, 7, 8, 9])).tolist() == [3, 3, 3, 4, 5, 5]
    # Everyone equal: everyone 5.
    assert quintile_scores(np.array([3.0, 3, 3])).tolist() == [5, 5, 5]


def test_recency_is_reversed():
    # Days since the last order: the most recent (1 day) scores 5; ties (10, 10) share
    # k = #{recency >= 10} = 4 of 5 -> 4.
    recency = np.array([1.0, 10, 10, 30, 200])
    assert quintile_scores(recency, higher_is_better=False).tolist() == [5, 4, 4, 2, 1]


@given(st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=60))
def test_edges_reproduce_the_batch_scores(values):
    array = np.asarray(values, dtype=np.float64)
    frame = pd.DataFrame({"recency_days": array, "frequency": array, "monetary": array})
    stored = quintile_edges(frame)
    batch = rfm_scores(frame)
    for value, r, f in zip(array, batch["r"], batch["f"], strict=True):
        assert stored.scores(value, value, value)[:2] == (r, f)
    assert len(edges(array)) == 4


def test_segments_first_match_wins():
    assert segment_of(5, 5, 5) == "champions"
    assert segment_of(4, 4, 4) == "potential_loyalists"  # also loyal_customers: first wins
    assert segment_of(2, 3, 3) == "loyal_customers"
    assert segment_of(1, 3, 4) == "cant_lose_them"
    assert segment_of(1, 2, 5) == "at_risk"
    assert segment_of(1, 1, 1) == "lost"
    assert segment_of(2, 1, 5) == "others"
