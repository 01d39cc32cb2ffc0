"""Laws: the credits of one conversion sum to 1, for every model, whatever the paths."""

from __future__ import annotations

from datetime import timedelta

from attribution_helpers import build_source, utc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilotage.attribution import MODELS, credits

BASE = utc(2024, 1, 1)

# A contact: touches as (hours after BASE, campaign) and maybe a conversion (hours after
# BASE). Hours up to 4,000 (~ 5.5 months) against a 90-day lookback: some touches fall
# outside, some paths are empty (direct), some touches share an instant (ties).
contact_strategy = st.tuples(
    st.lists(
        st.tuples(st.integers(0, 4_000), st.sampled_from(["c1", "c2", "c3", "c4"])),
        max_size=6,
    ),
    st.one_of(st.none(), st.integers(0, 4_000)),
)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(st.lists(contact_strategy, min_size=1, max_size=8), st.sampled_from(["campaign", "channel"]))
def test_credits_of_each_conversion_sum_to_one(contacts, by):
    touches, orders = [], []
    serial = 0
    for number, (contact_touches, converted) in enumerate(contacts):
        contact_id = f"k{number}"
        for hours, campaign in contact_touches:
            serial += 1
            when = BASE + timedelta(hours=hours)
            touches.append((f"t{serial:04d}", contact_id, when.isoformat(" "), campaign))
        if converted is not None:
            orders.append((contact_id, (BASE + timedelta(hours=converted)).isoformat(" "), 10.0))
    customers = {order[0] for order in orders}
    source = build_source(touches, orders, contacts={f"k{i}": "web" for i in range(len(contacts))})
    for model in MODELS:
        frame = source.execute(credits(source, model, by, grain="month"))
        sums = frame.groupby("contact_id")["credit"].sum()
        assert set(sums.index) == customers, (model, by)
        assert all(abs(total - 1.0) < 1e-9 for total in sums), (model, by, sums)
        assert (frame["credit"] > 0).all()
