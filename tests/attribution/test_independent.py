"""An independent check: the engine against a straightforward pure-Python implementation.

A seeded random data set (hundreds of contacts, repeated touches, ties in time, touches
outside the lookback window, prospects, direct customers) is attributed by channel with
all six models by `attribute()` (Ibis on DuckDB) and by the loops below, written from
attribution.md alone (Markov by the literal definition: one chain per removed state).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from attribution_helpers import build_source, utc

from pilotage.attribution import MODELS, attribute
from pilotage.cli import main
from pilotage.contract.settings import Settings

CAMPAIGNS = {"c1": "web", "c2": "email", "c3": "ads", "c4": "web", "c5": "social", "c6": "ads"}
START = utc(2024, 1, 1)
LOOKBACK = 30
HALF_LIFE = 5.0
REVENUE_DAYS = 60


def random_company(seed: int, size: int = 300):
    rng = np.random.default_rng(seed)
    touches, orders, contacts = [], [], {}
    serial = 0
    for number in range(size):
        contact_id = f"k{number:06d}"
        contacts[contact_id] = str(rng.choice(["web", "store", "phone", "referral"]))
        for _ in range(int(rng.poisson(3))):
            serial += 1
            seconds = int(rng.integers(0, 180 * 86_400))
            if rng.random() < 0.2:
                seconds -= seconds % 86_400  # midnight: ties between touches
            when = START + timedelta(seconds=seconds)
            # ids as strings with varying widths: ties are broken in string order
            interaction_id = f"t{int(rng.integers(0, 10_000))}-{serial}"
            campaign = str(rng.choice(list(CAMPAIGNS)))
            touches.append((interaction_id, contact_id, when.isoformat(" "), campaign))
        if rng.random() < 0.4:
            first = START + timedelta(seconds=int(rng.integers(0, 180 * 86_400)))
            for repeat in range(int(rng.integers(1, 4))):
                when = first + timedelta(days=float(rng.integers(0, 90)) * min(repeat, 1))
                amount = float(rng.integers(10, 500))
                orders.append((contact_id, when.isoformat(" "), amount))
    return touches, orders, contacts


def quarter(instant: datetime) -> str:
    return f"{instant.year}-Q{(instant.month - 1) // 3 + 1}"


def literal_markov(paths: list[tuple[list[str], bool]]) -> dict[str, float]:
    """Credits per state of one period's paths (state lists, converted?)."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    conversions = 0
    for states, converted in paths:
        sequence = ["(start)", *states, "(conversion)" if converted else "(null)"]
        conversions += converted
        for a, b in zip(sequence, sequence[1:], strict=False):
            if a != b:
                counts[(a, b)] += 1
    names = sorted({s for pair in counts for s in pair} - {"(start)", "(conversion)", "(null)"})
    order = ["(start)", *names, "(conversion)", "(null)"]
    index = {name: i for i, name in enumerate(order)}
    matrix = np.zeros((len(order), len(order)))
    for (a, b), c in counts.items():
        matrix[index[a], index[b]] = c
    totals = matrix.sum(axis=1)
    matrix = matrix / np.where(totals == 0, 1, totals)[:, None]

    def probability(removed: str | None) -> float:
        m = matrix.copy()
        if removed is not None:
            m[:, index["(null)"]] += m[:, index[removed]]
            m[:, index[removed]] = 0.0
        size = len(names) + 1
        q = m[:size, :size]
        return float(np.linalg.solve(np.eye(size) - q, m[:size, index["(conversion)"]])[0])

    if conversions == 0:
        return {}
    total = probability(None)
    effects = {name: 1 - probability(name) / total for name in names}
    effect_sum = sum(effects.values())
    return {name: conversions * e / effect_sum for name, e in effects.items()}


def expected_by_channel(touches, orders, contacts):
    """{(model, quarter, channel): (conversions, revenue)} by loops over the rows."""
    lookback = timedelta(days=LOOKBACK)
    by_contact = defaultdict(list)
    for interaction_id, contact_id, when, campaign in touches:
        by_contact[contact_id].append((datetime.fromisoformat(when), interaction_id, campaign))
    for items in by_contact.values():
        items.sort()
    orders_of = defaultdict(list)
    for contact_id, when, amount in orders:
        orders_of[contact_id].append((datetime.fromisoformat(when), amount))
    result: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    markov_paths: dict[str, list[tuple[list[str], bool]]] = defaultdict(list)
    markov_touched: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for contact_id in contacts:
        items = by_contact.get(contact_id, [])
        if contact_id not in orders_of:
            if items:
                last = items[-1][0]
                path = [CAMPAIGNS[c] for t, _, c in items if last - lookback <= t <= last]
                markov_paths[quarter(last)].append((path, False))
            continue
        converted_at = min(t for t, _ in orders_of[contact_id])
        revenue = sum(
            a
            for t, a in orders_of[contact_id]
            if converted_at <= t < converted_at + timedelta(days=REVENUE_DAYS)
        )
        period = quarter(converted_at)
        path = [(t, c) for t, _, c in items if converted_at - lookback <= t <= converted_at]
        if not path:
            for model in MODELS:
                entry = result[(model, period, contacts[contact_id])]
                entry[0] += 1
                entry[1] += revenue
            continue
        n = len(path)
        shares: dict[str, list[float]] = {m: [0.0] * n for m in MODELS if m != "markov"}
        shares["first_touch"][0] = 1.0
        shares["last_touch"][-1] = 1.0
        shares["linear"] = [1 / n] * n
        weights = [
            0.5 ** ((converted_at - t).total_seconds() / 86_400 / HALF_LIFE) for t, _ in path
        ]
        shares["time_decay"] = [w / sum(weights) for w in weights]
        if n == 1:
            shares["position_based"] = [1.0]
        elif n == 2:
            shares["position_based"] = [0.5, 0.5]
        else:
            shares["position_based"] = [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]
        for model, credit_list in shares.items():
            for (_, campaign), credit in zip(path, credit_list, strict=True):
                entry = result[(model, period, CAMPAIGNS[campaign])]
                entry[0] += credit
                entry[1] += credit * revenue
        markov_paths[period].append(([CAMPAIGNS[c] for _, c in path], True))
        markov_touched[period][0] += 1
        markov_touched[period][1] += revenue
    for period, paths in markov_paths.items():
        for channel, credit in literal_markov(paths).items():
            share = credit / markov_touched[period][0]
            entry = result[("markov", period, channel)]
            entry[0] += credit
            entry[1] += share * markov_touched[period][1]
    return {key: tuple(value) for key, value in result.items() if value[0] > 1e-12}


@pytest.mark.parametrize("seed", [7, 2024])
def test_engine_matches_independent_computation(seed):
    touches, orders, contacts = random_company(seed)
    settings = Settings(
        attribution_lookback_days=LOOKBACK,
        time_decay_half_life_days=HALF_LIFE,
        revenue_window_days=REVENUE_DAYS,
    )
    source = build_source(
        touches, orders, contacts=contacts, campaigns=CAMPAIGNS, settings=settings
    )
    result = attribute(source, "all", "channel", "quarter")
    actual = {
        (row.model, row.period, row.key): (row.conversions, row.revenue)
        for row in result.rows
        if row.conversions > 1e-12
    }
    expected = expected_by_channel(touches, orders, contacts)
    assert actual.keys() == expected.keys()
    for key, (conversions, revenue) in expected.items():
        assert round(actual[key][0], 2) == round(conversions, 2), key
        assert actual[key][1] == pytest.approx(revenue, rel=1e-6, abs=1e-6), key
    # sanity of the data set: every model and direct conversions are exercised
    assert {key[0] for key in expected} == set(MODELS)
    assert any(key[2] in ("store", "phone", "referral") for key in expected)


def write_contract_folder(folder: Path, touches, orders, contacts) -> None:
    """The random company as a contract folder, with the test's settings."""
    folder.mkdir()
    (folder / "pilotage.toml").write_text(
        f"attribution_lookback_days = {LOOKBACK}\n"
        f"time_decay_half_life_days = {HALF_LIFE}\n"
        f"revenue_window_days = {REVENUE_DAYS}\n"
    )
    (folder / "campaigns.csv").write_text(
        "campaign_id,name,channel\n"
        + "".join(f"{c},campaign {c},{channel}\n" for c, channel in CAMPAIGNS.items())
    )
    (folder / "contacts.csv").write_text(
        "contact_id,created_at,channel\n"
        + "".join(f"{c},2020-01-01,{channel}\n" for c, channel in contacts.items())
    )
    (folder / "interactions.csv").write_text(
        "interaction_id,contact_id,occurred_at,type,campaign_id\n"
        + "".join(f"{i},{c},{w},ad_click,{k}\n" for i, c, w, k in touches)
    )
    (folder / "orders.csv").write_text(
        "order_id,contact_id,ordered_at,amount\n"
        + "".join(f"o{n},{c},{w},{a:.2f}\n" for n, (c, w, a) in enumerate(orders))
    )


def test_the_command_matches_the_independent_computation_on_a_large_data_set(tmp_path, capsys):
    # 20,000 contacts, about 60,000 touchpoints and 8,000 customers, through the command
    # line (`pilotage attribution --model all --by channel --format json`) on a contract
    # folder: the same credits as the loops above, to the second decimal.
    touches, orders, contacts = random_company(11, size=20_000)
    folder = tmp_path / "large"
    write_contract_folder(folder, touches, orders, contacts)
    command = ["attribution", "--data", str(folder), "--model", "all", "--by", "channel"]
    assert main([*command, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    actual = {
        (row["model"], row["period"], row["channel"]): (row["conversions"], row["revenue"])
        for row in document["rows"]
        if row["conversions"] > 1e-12
    }
    expected = expected_by_channel(touches, orders, contacts)
    assert len(expected) > 60  # 6 models x 3 quarters x 4 to 7 channels
    assert actual.keys() == expected.keys()
    for key, (conversions, revenue) in expected.items():
        assert round(actual[key][0], 2) == round(conversions, 2), key
        assert actual[key][1] == pytest.approx(revenue, rel=1e-6), key
