"""The synthetic company: deterministic, within the contract, and realistic where it counts.

The realism checks are statistical properties of one 5,000-contact company (seed 7): each
margin is wide (the generated effect is several times the threshold), so they hold for
any seed, not only for this one.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression

from pilotage import cli
from pilotage.contract.schema import (
    CHANNELS,
    DEAL_STATUSES,
    DEFAULT_JOURNEY_STAGES,
    INTERACTION_TYPES,
    ORDER_STATUSES,
    SPEND_CATEGORIES,
    TABLE_NAMES,
    TABLES,
    table,
)
from pilotage.contract.settings import load_settings
from pilotage.demo.generator import CHUNK_SIZE, DEFAULT_END, generate_company
from pilotage.demo.writers import parquet_schema

CONTACTS = 5000
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONEY = re.compile(r"^\d+\.\d{2}$")
SIGNED_MONEY = re.compile(r"^-?\d+\.\d{2}$")
PREDICTIVE = ("form_submit", "demo", "meeting", "quote_sent", "store_visit")


def _digest(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
    }


def _read(folder: Path, name: str) -> pd.DataFrame:
    """A CSV table as text, empty cells as missing (the contract reads every cell as text)."""
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])


class Company:
    """The tables of a generated CSV folder, raw (text) and parsed."""

    def __init__(self, folder: Path, rows: dict[str, int]) -> None:
        self.folder = folder
        self.rows = rows
        self.raw = {name: _read(folder, name) for name in TABLE_NAMES}
        self.t = {name: frame.copy() for name, frame in self.raw.items()}
        for spec in TABLES:
            frame = self.t[spec.name]
            for column in spec.columns:
                if column.type == "timestamp":
                    frame[column.name] = pd.to_datetime(frame[column.name])
                elif column.type == "money":
                    frame[column.name] = frame[column.name].astype(float)
                elif column.type == "date":
                    frame[column.name] = pd.to_datetime(frame[column.name])
        orders = self.t["orders"]
        paid = orders[(orders.status == "paid") & (orders.amount > 0)]
        converted = pd.concat(
            [
                paid.groupby("contact_id").ordered_at.min(),
                self.t["subscriptions"].groupby("contact_id").started_at.min(),
            ],
            axis=1,
        ).min(axis=1)
        contacts = self.t["contacts"].set_index("contact_id")
        contacts["converted_at"] = converted.reindex(contacts.index)
        delay = (contacts.converted_at - contacts.created_at).dt.total_seconds() / 86400
        contacts["delay_days"] = delay.clip(lower=0)
        self.contacts = contacts
        self.paid = paid
        self.end = pd.Timestamp(DEFAULT_END) + pd.Timedelta(days=1)

    def conversion_rate(self, channel: str, window_days: int = 90) -> float:
        """Share of the channel's contacts converting within the window (cohorts that had it)."""
        cohort = self.contacts[
            (self.contacts.channel == channel)
            & (self.contacts.created_at < self.end - pd.Timedelta(days=window_days))
        ]
        return float((cohort.delay_days < window_days).mean())

    def cac(self, channel: str) -> float:
        spend = self.t["spend"]
        customers = self.contacts[self.contacts.converted_at.notna()]
        return float(
            spend[spend.channel == channel].amount.sum() / (customers.channel == channel).sum()
        )


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Company:
    folder = tmp_path_factory.mktemp("company")
    rows = generate_company(folder, contacts=CONTACTS, seed=7)
    return Company(folder, rows)


# ----------------------------------------------------------------------- determinism


def test_same_seed_same_bytes_csv_across_chunks(tmp_path: Path) -> None:
    contacts = CHUNK_SIZE + 1500  # two chunks
    generate_company(tmp_path / "a", contacts=contacts, seed=11)
    generate_company(tmp_path / "b", contacts=contacts, seed=11)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert len(_read(tmp_path / "a", "contacts")) == contacts


def test_same_seed_same_bytes_parquet(tmp_path: Path) -> None:
    generate_company(tmp_path / "a", contacts=1500, seed=3, fmt="parquet")
    generate_company(tmp_path / "b", contacts=1500, seed=3, fmt="parquet")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_another_seed_another_company(tmp_path: Path) -> None:
    generate_company(tmp_path / "a", contacts=500, seed=1)
    generate_company(tmp_path / "b", contacts=500, seed=2)
    a, b = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert a["contacts.csv"] != b["contacts.csv"]
    assert a["orders.csv"] != b["orders.csv"]


def test_parquet_holds_the_same_company_typed(tmp_path: Path) -> None:
    csv_rows = generate_company(tmp_path / "csv", contacts=800, seed=5)
    parquet_rows = generate_company(tmp_path / "pq", contacts=800, seed=5, fmt="parquet")
    assert csv_rows == parquet_rows
    for name in TABLE_NAMES:
        data = pq.read_table(tmp_path / "pq" / f"{name}.parquet")
        assert data.schema.equals(parquet_schema(name), check_metadata=False)
        assert data.num_rows == csv_rows[name]
    orders = pq.read_table(tmp_path / "pq" / "orders.parquet").to_pandas()
    csv_orders = _read(tmp_path / "csv", "orders")
    assert orders.amount.map(str).tolist() == csv_orders.amount.tolist()
    assert (
        orders.ordered_at.dt.strftime("%Y-%m-%dT%H:%M:%S").tolist()
        == csv_orders.ordered_at.tolist()
    )


def test_files_of_the_other_format_are_removed(tmp_path: Path) -> None:
    generate_company(tmp_path, contacts=100, fmt="parquet")
    generate_company(tmp_path, contacts=100, fmt="csv")
    assert not list(tmp_path.glob("*.parquet"))
    assert len(list(tmp_path.glob("*.csv"))) == len(TABLE_NAMES)


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="contacts"):
        generate_company(tmp_path, contacts=0)
    with pytest.raises(ValueError, match="format"):
        generate_company(tmp_path, contacts=10, fmt="xlsx")


# ----------------------------------------------------------------------- the contract


def test_every_table_is_written_with_the_contract_columns(company: Company) -> None:
    for spec in TABLES:
        assert tuple(company.raw[spec.name].columns) == spec.column_names
        assert len(company.raw[spec.name]) == company.rows[spec.name] > 0
        for column in spec.columns:
            if column.required:
                assert company.raw[spec.name][column.name].notna().all(), column.name
    settings = load_settings(data_dir=company.folder)
    assert (settings.timezone, settings.currency) == ("Europe/Paris", "EUR")
    assert settings.gross_margin == 0.38


def test_ids_are_unique_and_references_exist(company: Company) -> None:
    raw = company.raw
    for spec in TABLES:
        if spec.has_single_id:
            assert raw[spec.name][spec.key[0]].is_unique, spec.name
        for column in spec.columns:
            if column.references:
                parent = table(column.references)
                values = raw[spec.name][column.name].dropna()
                known = set(raw[parent.name][parent.key[0]])
                assert values.isin(known).all(), f"{spec.name}.{column.name}"
    spend_key = raw["spend"][list(table("spend").key)].fillna("")
    assert not spend_key.duplicated().any()
    stage_key = raw["stage_changes"][list(table("stage_changes").key)]
    assert not stage_key.duplicated().any()


def test_values_have_the_contract_formats(company: Company) -> None:
    end = company.end
    for spec in TABLES:
        frame = company.raw[spec.name]
        for column in spec.columns:
            values = frame[column.name].dropna()
            if column.type == "timestamp":
                assert values.str.match(TIMESTAMP).all(), column.name
                parsed = pd.to_datetime(values)
                # never in a DST gap or overlap of Europe/Paris, never after the history
                assert not parsed.dt.hour.between(1, 3).any(), column.name
                assert (parsed < end).all()
                assert (parsed >= pd.Timestamp("2025-04-01")).all()
            elif column.type == "date":
                assert values.str.match(DATE).all(), column.name
            elif column.type == "money":
                pattern = SIGNED_MONEY if column.minimum is None else MONEY
                assert values.str.match(pattern).all(), f"{spec.name}.{column.name}"
            elif column.type == "enum":
                assert (values == values.str.lower()).all(), column.name
    raw = company.raw
    assert set(raw["contacts"].channel) <= set(CHANNELS)
    assert set(raw["campaigns"].channel) <= set(CHANNELS)
    assert set(raw["spend"].channel) <= set(CHANNELS)
    assert set(raw["spend"].category.dropna()) <= set(SPEND_CATEGORIES)
    assert set(raw["interactions"].type) <= set(INTERACTION_TYPES)
    assert set(raw["deals"].status) == set(DEAL_STATUSES)
    assert set(raw["orders"].status) == set(ORDER_STATUSES)
    assert set(raw["stage_changes"].stage) == set(DEFAULT_JOURNEY_STAGES)
    assert pd.to_numeric(raw["contacts"].employees.dropna()).ge(0).all()


def test_row_rules_hold(company: Company) -> None:
    t = company.t
    deals = t["deals"]
    closed = deals.status.isin(["won", "lost"])
    assert deals.closed_at[closed].notna().all()
    assert deals.closed_at[~closed].isna().all()
    assert (deals.closed_at[closed] >= deals.created_at[closed]).all()
    assert deals.lost_reason[deals.status == "lost"].notna().all()
    assert deals.lost_reason[deals.status != "lost"].isna().all()
    subscriptions = t["subscriptions"]
    ended = subscriptions.ended_at.notna()
    assert (subscriptions.ended_at[ended] >= subscriptions.started_at[ended]).all()
    campaigns = t["campaigns"]
    assert (campaigns.ended_on >= campaigns.started_on).all()
    assert (t["spend"].amount >= 0).all()
    assert (t["orders"].amount >= 0).all()
    # a campaign's spend and touchpoints are in the campaign's channel
    channel_of = campaigns.set_index("campaign_id").channel
    spend = t["spend"].dropna(subset=["campaign_id"])
    assert (spend.channel.to_numpy() == channel_of[spend.campaign_id].to_numpy()).all()
    touches = t["interactions"].dropna(subset=["campaign_id"])
    assert (touches.channel.to_numpy() == channel_of[touches.campaign_id].to_numpy()).all()
    # the days a campaign is spent on and touches are within its dates
    spans = campaigns.set_index("campaign_id")
    spent = spans.loc[spend.campaign_id]
    assert (spend.spent_on.to_numpy() >= spent.started_on.to_numpy()).all()
    assert (spend.spent_on.to_numpy() <= spent.ended_on.to_numpy()).all()


def test_journeys_end_at_customer_for_buyers(company: Company) -> None:
    stages = company.t["stage_changes"]
    customers = company.contacts.index[company.contacts.converted_at.notna()]
    reached = set(stages.contact_id[stages.stage == "customer"])
    assert set(customers) == reached
    # the customer stage is entered at the conversion time
    entered = stages[stages.stage == "customer"].set_index("contact_id").changed_at
    assert (entered == company.contacts.converted_at[entered.index]).all()
    # every contact starts as a lead; stages may be skipped (store buyers go straight)
    assert set(stages.contact_id[stages.stage == "lead"]) == set(company.contacts.index)
    per_contact = stages.groupby("contact_id").stage.agg(frozenset)
    assert (per_contact == frozenset({"lead", "customer"})).sum() > 50


def test_won_deals_are_conversions(company: Company) -> None:
    deals = company.t["deals"]
    won = deals[deals.status == "won"]
    assert (
        won.closed_at.to_numpy() == company.contacts.converted_at[won.contact_id].to_numpy()
    ).all()


# ----------------------------------------------------------------------- realism


def test_store_visitors_convert_more_than_web_visitors(company: Company) -> None:
    store, web = company.conversion_rate("store"), company.conversion_rate("web")
    assert store > 3 * web
    assert 0.01 < web < 0.15
    rates = {channel: company.conversion_rate(channel) for channel in CHANNELS}
    assert len({round(rate, 2) for rate in rates.values()}) >= 6  # channels truly differ


def test_ads_cost_more_per_customer_than_referrals(company: Company) -> None:
    assert company.cac("ads") > 5 * company.cac("referral")
    volumes = company.contacts.channel.value_counts()
    assert volumes["web"] > 2 * volumes["referral"]


def test_predictive_interactions_raise_conversion(company: Company) -> None:
    """Features as of a cutoff, label from the 90 days after it (the scoring set-up).

    Pooled over monthly cutoffs: among prospects at the cutoff, the 90-day conversion rate
    of those with a predictive touch in the 30 days before it, over the rate of the others.
    """
    interactions = company.t["interactions"]
    contacts = company.contacts
    counts = {name: np.zeros(4) for name in ("predictive", "email_open")}
    for cutoff in pd.date_range("2025-09-01", "2026-06-01", freq="MS"):
        prospects = contacts[(contacts.created_at < cutoff) & ~(contacts.converted_at < cutoff)]
        label = (prospects.converted_at >= cutoff) & (
            prospects.converted_at < cutoff + pd.Timedelta(days=90)
        )
        recent = interactions[
            (interactions.occurred_at < cutoff)
            & (interactions.occurred_at >= cutoff - pd.Timedelta(days=30))
        ]
        for name, kinds in (("predictive", PREDICTIVE), ("email_open", ("email_open",))):
            touched = prospects.index.isin(recent.contact_id[recent.type.isin(kinds)])
            counts[name] += [
                label[touched].sum(),
                touched.sum(),
                label[~touched].sum(),
                (~touched).sum(),
            ]
    lift = {name: (c[0] / c[1]) / (c[2] / c[3]) for name, c in counts.items()}
    assert lift["predictive"] > 5
    assert lift["email_open"] < 1.8  # an open barely says anything


def test_paid_contacts_have_several_touchpoints(company: Company) -> None:
    touches = company.t["interactions"].dropna(subset=["campaign_id"])
    contacts = company.contacts
    sourced_buyers = contacts.index[contacts.campaign_id.notna() & contacts.converted_at.notna()]
    per_buyer = touches.groupby("contact_id").size().reindex(sourced_buyers, fill_value=0)
    assert per_buyer.min() >= 1
    assert per_buyer.mean() >= 2
    campaigns_per_buyer = touches.groupby("contact_id").campaign_id.nunique()
    assert (campaigns_per_buyer.reindex(sourced_buyers) > 1).mean() > 0.2
    # touchpoints of a converted contact come before its conversion
    converted_at = contacts.converted_at[touches.contact_id].to_numpy()
    before = touches.occurred_at.to_numpy() <= converted_at
    assert before[~pd.isna(converted_at)].all()


def test_rep_win_rates_differ_beyond_lead_quality(company: Company) -> None:
    deals = company.t["deals"]
    closed = deals[deals.status != "open"].merge(
        company.contacts, left_on="contact_id", right_index=True, suffixes=("", "_contact")
    )
    won = (closed.status == "won").to_numpy()
    quality = pd.get_dummies(
        closed[["channel", "industry", "job_title"]].fillna("none"), dtype=float
    ).assign(employees=np.log1p(pd.to_numeric(closed.employees).fillna(0)))
    reps = pd.get_dummies(closed.rep_id, dtype=float, drop_first=True)
    both = pd.concat([quality, reps], axis=1)

    def log_likelihood(features: pd.DataFrame) -> float:
        model = LogisticRegression(C=1e6, max_iter=5000).fit(features, won)
        p = model.predict_proba(features)[:, 1]
        return float(np.sum(won * np.log(p) + (1 - won) * np.log(1 - p)))

    statistic = 2 * (log_likelihood(both) - log_likelihood(quality))
    assert stats.chi2.sf(statistic, df=reps.shape[1]) < 1e-4
    rates = closed.groupby("rep_id").status.apply(lambda s: (s == "won").mean())
    assert rates.max() - rates.min() > 0.25
    reps_table = company.t["reps"]
    assert 8 <= len(reps_table) <= 15
    assert 2 <= reps_table.team.nunique() <= 3


def test_customers_buy_again_and_some_orders_go_wrong(company: Company) -> None:
    orders = company.t["orders"]
    per_customer = company.paid.groupby("contact_id").size()
    assert (per_customer >= 2).mean() > 0.25
    assert per_customer.var() > per_customer.mean()  # heterogeneous rates (NBD-like)
    statuses = orders.status.value_counts()
    assert statuses["refunded"] > 10
    assert statuses["cancelled"] > 5
    assert (orders.amount == 0).sum() > 0
    assert set(orders.channel) == {"web", "store", "phone"}
    assert 0.2 < orders.margin.notna().mean() < 0.9
    # order values: right-skewed, as a gamma-gamma spend process gives
    assert company.paid.amount.mean() > company.paid.amount.median()


def test_some_customers_subscribe(company: Company) -> None:
    subscriptions = company.t["subscriptions"]
    assert len(subscriptions) > 50
    assert 0 < subscriptions.ended_at.notna().sum() < len(subscriptions)
    assert subscriptions.plan.nunique() >= 2
    assert (subscriptions.mrr > 0).all()


def test_seasons_and_weekdays(company: Company) -> None:
    created = company.contacts.created_at
    per_day = created.groupby([created.dt.year, created.dt.month]).size() / created.groupby(
        [created.dt.year, created.dt.month]
    ).apply(lambda s: s.dt.day.max())
    q4 = per_day.loc[[(2025, 10), (2025, 11), (2025, 12)]].mean()
    august = per_day.loc[[(2025, 8), (2026, 8)]].mean()
    assert q4 > 1.6 * august
    store = created[company.contacts.channel == "store"].dt.day_of_week.value_counts()
    assert store.get(6, 0) == 0  # the stores are closed on Sunday
    assert store.idxmax() == 5  # and busiest on Saturday
    # fewer orders in August than in the months around it (customers on holiday)
    month = company.paid.ordered_at.dt.month
    assert (month == 8).sum() < 0.8 * month.isin([7, 9]).sum() / 2


def test_some_store_buyers_registered_after_paying(company: Company) -> None:
    contacts = company.contacts
    late = contacts[contacts.converted_at < contacts.created_at]
    assert len(late) > 0
    assert (late.channel == "store").all()
    assert (late.created_at - late.converted_at).max() < pd.Timedelta(days=2)


def test_end_date_sets_the_window(tmp_path: Path) -> None:
    generate_company(tmp_path, contacts=300, end=date(2025, 12, 31))
    contacts = _read(tmp_path, "contacts")
    created = pd.to_datetime(contacts.created_at)
    assert created.min() >= pd.Timestamp("2024-07-01")
    assert created.max() < pd.Timestamp("2026-01-01")
    orders = pd.to_datetime(_read(tmp_path, "orders").ordered_at)
    assert orders.max() < pd.Timestamp("2026-01-01")


# ----------------------------------------------------------------------- the command


def test_the_command_writes_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "folder"
    code = cli.main(
        ["generate", "--out", str(out), "--contacts", "200", "--seed", "4", "--format", "parquet"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "contacts" in printed
    assert "200" in printed
    assert "━" not in printed  # no progress bar when stdout is not a terminal
    assert sorted(p.name for p in out.glob("*.parquet")) == sorted(
        f"{name}.parquet" for name in TABLE_NAMES
    )
    assert (out / "pilotage.toml").is_file()


def test_the_command_refuses_bad_options(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["generate", "--out", str(tmp_path), "--contacts", "0"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["generate", "--out", str(tmp_path), "--end", "30/09/2026"])
