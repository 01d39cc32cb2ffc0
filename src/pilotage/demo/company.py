"""The company-wide part of the synthetic company: calendar, channels, reps, campaigns, spend.

Everything here is small (a few thousand rows at most) and drawn once from the company's
own random stream, before any contact exists. The per-contact simulation
(`pilotage.demo.simulate`) reads these arrays; nothing here depends on the chunking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from pilotage.demo import vocabulary as vocab

MINUTES_PER_DAY = 1440
HISTORY_MONTHS = 18

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Relative volume of each calendar month (January first): busy Q4, quiet August.
MONTH_SEASONALITY = (0.95, 0.95, 1.05, 1.0, 1.0, 0.98, 0.85, 0.55, 1.05, 1.15, 1.4, 1.3)

# Hours of the day (local time) at which events of a kind happen, as weights. No hour from
# 01:00 to 04:00 ever has weight, so no time falls in a DST gap or overlap of Europe/Paris.
_WEB_HOURS = (0, 0, 0, 0, 0, 0, 1, 2, 4, 6, 7, 7, 8, 8, 7, 7, 7, 7, 7, 8, 9, 9, 7, 4)
_BUSINESS_HOURS = (0, 0, 0, 0, 0, 0, 0, 0, 4, 8, 9, 9, 5, 6, 9, 9, 8, 6, 3, 0, 0, 0, 0, 0)
_STORE_HOURS = (0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 6, 8, 8, 7, 7, 8, 9, 9, 7, 5, 0, 0, 0, 0)
CLOCKS: dict[str, tuple[int, ...]] = {
    "web": _WEB_HOURS,
    "business": _BUSINESS_HOURS,
    "store": _STORE_HOURS,
}
CLOCK_NAMES: tuple[str, ...] = ("web", "business", "store")


@dataclass(frozen=True)
class ChannelProfile:
    """How one acquisition channel behaves. Quality and biases are on the logit scale."""

    name: str
    share: float  # share of all new contacts
    b2b_share: float  # share of organisations (company, industry, employees, job title)
    owner_share: float  # share of contacts a rep is put in charge of
    base_quality: float
    conversion_bias: float  # added to the logit of converting at each engagement episode
    episodes_mean: float  # mean number of engagement episodes of an average contact
    first_episode_days: float  # mean delay from creation to the first episode
    organic_share: float  # share of the channel's contacts that no campaign sourced
    campaign_cost_per_lead: float  # campaign spend per expected contact, EUR
    # Channel-level monthly costs (no campaign): category -> EUR per expected contact.
    channel_costs: tuple[tuple[str, float], ...]
    weekdays: tuple[float, ...]  # Monday first
    clock: str
    touch_type: str  # interaction type of a touchpoint of this channel's campaigns


CHANNELS: tuple[ChannelProfile, ...] = (
    ChannelProfile(
        "web", 0.29, 0.30, 0.45, -0.6, -2.3, 0.8, 4.0, 1.0, 0.0,
        (("tools", 2.5), ("salaries", 4.0)),
        (1.15, 1.1, 1.05, 1.0, 0.95, 0.8, 0.85), "web", "web_visit",
    ),
    ChannelProfile(
        "store", 0.12, 0.10, 0.90, 0.6, -1.2, 1.0, 0.0, 1.0, 0.0,
        (("salaries", 22.0), ("other", 4.0)),
        (0.7, 0.9, 1.0, 0.95, 1.1, 1.9, 0.0), "store", "store_visit",
    ),
    ChannelProfile(
        "phone", 0.06, 0.50, 0.95, 0.1, -1.7, 1.0, 2.0, 1.0, 0.0,
        (("salaries", 16.0),),
        (1.2, 1.15, 1.1, 1.1, 1.0, 0.3, 0.05), "business", "call",
    ),
    ChannelProfile(
        "email", 0.08, 0.30, 0.40, -0.3, -2.0, 0.8, 5.0, 0.2, 3.0,
        (("tools", 1.5),),
        (1.2, 1.15, 1.05, 1.05, 0.9, 0.4, 0.35), "web", "email_click",
    ),
    ChannelProfile(
        "event", 0.05, 0.80, 0.95, 0.0, -1.9, 1.0, 6.0, 0.0, 95.0,
        (),
        (1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.3), "business", "event_attended",
    ),
    ChannelProfile(
        "referral", 0.05, 0.40, 0.85, 0.7, -1.5, 1.0, 3.0, 0.4, 14.0,
        (),
        (1.05, 1.05, 1.0, 1.0, 1.0, 0.8, 0.7), "web", "web_visit",
    ),
    ChannelProfile(
        "partner", 0.06, 0.90, 0.95, 0.2, -2.1, 1.0, 4.0, 0.5, 30.0,
        (("other", 5.0),),
        (1.15, 1.1, 1.05, 1.05, 1.0, 0.3, 0.2), "business", "web_visit",
    ),
    ChannelProfile(
        "social", 0.10, 0.15, 0.35, -0.8, -2.4, 0.8, 4.0, 0.3, 28.0,
        (("salaries", 4.0),),
        (0.95, 0.95, 0.95, 1.0, 1.05, 1.1, 1.1), "web", "social_click",
    ),
    ChannelProfile(
        "ads", 0.19, 0.25, 0.40, -0.6, -2.1, 0.8, 3.0, 0.0, 52.0,
        (("tools", 2.0), ("agency", 3.0)),
        (1.05, 1.05, 1.0, 1.0, 0.95, 0.95, 1.0), "web", "ad_click",
    ),
)  # fmt: skip
CHANNEL_NAMES: tuple[str, ...] = tuple(profile.name for profile in CHANNELS)
CHANNEL_INDEX: dict[str, int] = {name: index for index, name in enumerate(CHANNEL_NAMES)}
STORE = CHANNEL_INDEX["store"]

# Spend category of the daily rows of a campaign, by the campaign's channel.
CAMPAIGN_SPEND_CATEGORY = {
    "ads": "media",
    "social": "media",
    "email": "tools",
    "event": "events",
    "partner": "other",
    "referral": "other",
}


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later (earlier if negative), clamped to the month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month - timedelta(days=1)).day
    return date(year, month, min(day.day, last_day))


@dataclass(frozen=True)
class Calendar:
    """The history window: day 0 is `start` (local midnight); minute m is m minutes later."""

    start: date
    end: date  # last day of the history (inclusive)
    days: int
    weekday: IntArray  # Monday = 0, one per day of the window
    month: IntArray  # 1..12, one per day
    season: FloatArray  # relative volume of each day (month seasonality and growth)

    @classmethod
    def ending(cls, end: date) -> Calendar:
        start = add_months(end + timedelta(days=1), -HISTORY_MONTHS)
        days = (end - start).days + 1
        dates = np.arange(days, dtype=np.int64)
        first_weekday = start.weekday()
        weekday = (first_weekday + dates) % 7
        as_dates = np.datetime64(start.isoformat(), "D") + dates.astype("timedelta64[D]")
        month = as_dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
        growth = 1.0 + 0.3 * dates / days  # the company grows about 20 % a year
        season = np.asarray(MONTH_SEASONALITY, dtype=np.float64)[month - 1] * growth
        return cls(start, end, days, weekday, month, season)

    @property
    def end_minute(self) -> int:
        """First minute after the history (exclusive bound of every timestamp)."""
        return self.days * MINUTES_PER_DAY

    def weekday_of(self, day: IntArray) -> IntArray:
        """Weekday of day indexes, also those outside the window."""
        result: IntArray = (self.start.weekday() + day) % 7
        return result


@dataclass(frozen=True)
class Reps:
    ids: tuple[str, ...]
    names: tuple[str, ...]
    teams: tuple[str, ...]  # team name of each rep
    team_of: IntArray  # team index of each rep
    skill: FloatArray  # logit shift of the win probability of their deals
    team_members: tuple[IntArray, ...]  # rep indexes of each team
    store_team: tuple[int, ...]  # team index of each store city (vocab.STORE_CITIES)
    inside_team: int


@dataclass(frozen=True)
class Campaigns:
    ids: tuple[str, ...]
    names: tuple[str, ...]
    channel: IntArray  # channel index
    first_day: IntArray  # inclusive day indexes
    last_day: IntArray
    weight: FloatArray  # relative daily volume inside its channel

    def __len__(self) -> int:
        return len(self.ids)

    def active(self, days: int) -> NDArray[np.bool_]:
        """(days x campaigns) mask of the days each campaign runs."""
        day = np.arange(days)[:, None]
        mask: NDArray[np.bool_] = (day >= self.first_day[None, :]) & (day <= self.last_day[None, :])
        return mask


@dataclass(frozen=True)
class Acquisition:
    """Where and when each channel's contacts come from.

    For channel c, `cells[c]` is the cumulative probability over the flattened
    (day x source) grid, source 0 being "no campaign" and source j >= 1 the campaign
    `sources[c][j - 1]`. `expected_campaign_share[k]` is the share of all contacts campaign k
    sources (used to size its budget).
    """

    cells: tuple[FloatArray, ...]
    sources: tuple[IntArray, ...]
    expected_campaign_share: FloatArray


@dataclass(frozen=True)
class Company:
    contacts: int
    seed: int
    calendar: Calendar
    reps: Reps
    campaigns: Campaigns
    acquisition: Acquisition
    # (days x campaigns) cumulative touch weights of the campaigns running each day.
    touch_cumulative: FloatArray
    spend: pa.Table  # typed columns, contract order


def company_rng(seed: int) -> np.random.Generator:
    """The company-wide stream: spawn key (0,), apart from every chunk's (1, chunk)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))


def chunk_rng(seed: int, chunk: int) -> np.random.Generator:
    """The stream of one chunk of contacts: independent of every other chunk's."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, chunk)))


def build_company(contacts: int, seed: int, end: date) -> Company:
    rng = company_rng(seed)
    calendar = Calendar.ending(end)
    reps = _build_reps(contacts, rng)
    campaigns = _build_campaigns(calendar, rng)
    acquisition = _build_acquisition(calendar, campaigns)
    touch = campaigns.active(calendar.days) * (campaigns.weight * _touch_appeal(campaigns))[None, :]
    spend = _build_spend(contacts, calendar, campaigns, acquisition, rng)
    return Company(
        contacts=contacts,
        seed=seed,
        calendar=calendar,
        reps=reps,
        campaigns=campaigns,
        acquisition=acquisition,
        touch_cumulative=np.cumsum(touch, axis=1),
        spend=spend,
    )


def _build_reps(contacts: int, rng: np.random.Generator) -> Reps:
    # 8 reps for a small company, up to 15 for a million contacts.
    count = int(np.clip(round(8 + 2.5 * np.log10(max(contacts, 1000) / 1000)), 8, 15))
    store_cities = vocab.STORE_CITIES if count >= 10 else vocab.STORE_CITIES[:1]
    team_names = tuple(f"{city} store" for city in store_cities) + (vocab.INSIDE_SALES_TEAM,)
    per_store = max(2, round(count * 0.28))
    team_of = np.full(count, len(team_names) - 1, dtype=np.int64)
    for team in range(len(store_cities)):
        team_of[team * per_store : (team + 1) * per_store] = team
    # Skills spread evenly then shuffled, so that every company has good and weak reps.
    skill = rng.permutation(np.linspace(-1.3, 1.3, count)) + rng.normal(0.0, 0.1, count)
    order = rng.permutation(len(vocab.FIRST_NAMES) * len(vocab.LAST_NAMES))[:count]
    names = tuple(
        f"{vocab.FIRST_NAMES[i // len(vocab.LAST_NAMES)][0]} "
        f"{vocab.LAST_NAMES[i % len(vocab.LAST_NAMES)][0]}"
        for i in order.tolist()
    )
    return Reps(
        ids=tuple(f"rep{i + 1:02d}" for i in range(count)),
        names=names,
        teams=tuple(team_names[t] for t in team_of.tolist()),
        team_of=team_of,
        skill=skill.astype(np.float64),
        team_members=tuple(np.flatnonzero(team_of == t) for t in range(len(team_names))),
        store_team=tuple(range(len(store_cities))),
        inside_team=len(team_names) - 1,
    )


def _month_label(calendar: Calendar, day: int) -> str:
    return (calendar.start + timedelta(days=day)).strftime("%Y-%m")


def _build_campaigns(calendar: Calendar, rng: np.random.Generator) -> Campaigns:
    names: list[str] = []
    channels: list[int] = []
    first: list[int] = []
    last: list[int] = []
    weights: list[float] = []
    days = calendar.days

    def add(name: str, channel: str, start: int, stop: int, weight: float) -> None:
        start = max(0, start)
        stop = min(days - 1, stop)
        if stop < start:
            return
        names.append(name)
        channels.append(CHANNEL_INDEX[channel])
        first.append(start)
        last.append(stop)
        weights.append(weight)

    # Ads: two always-on search campaigns and seasonal display/retargeting bursts.
    add("Search brand", "ads", 0, days - 1, 1.0)
    add("Search generic", "ads", 0, days - 1, 1.3)
    day = int(rng.integers(10, 40))
    while day < days:
        length = int(rng.integers(21, 46))
        add(f"Display {_month_label(calendar, day)}", "ads", day, day + length - 1, 2.5)
        day += length + int(rng.integers(25, 60))
    # Social: successive campaigns with gaps.
    day = int(rng.integers(0, 15))
    while day < days:
        length = int(rng.integers(30, 61))
        add(f"Social {_month_label(calendar, day)}", "social", day, day + length - 1, 1.0)
        day += length + int(rng.integers(0, 21))
    # E-mail: one newsletter campaign a month.
    month_start = 0
    while month_start < days:
        month_end = (
            add_months(calendar.start + timedelta(days=month_start), 1) - calendar.start
        ).days - 1
        add(
            f"Newsletter {_month_label(calendar, month_start)}",
            "email",
            month_start,
            month_end,
            1.0,
        )
        month_start = month_end + 1
    # Events: trade shows of one to three days every five to eight weeks (not in August).
    day = int(rng.integers(5, 30))
    while day < days:
        length = int(rng.integers(1, 4))
        day += (0 - int(calendar.weekday[min(day, days - 1)]) + 7) % 7 + 1  # start on Tuesday
        if day < days and calendar.month[day] != 8:
            add(f"Trade show {_month_label(calendar, day)}", "event", day, day + length - 1, 1.0)
        day += int(rng.integers(35, 57))
    # Partners and referral programmes run all along.
    for index, name in enumerate(
        ("Partner Atlas Integration", "Partner Nova Conseil", "Partner Horizon IT")
    ):
        add(name, "partner", 0, days - 1, (1.5, 1.0, 0.6)[index])
    add("Referral programme", "referral", 0, days - 1, 1.0)
    bonus = int(rng.integers(days // 3, days // 2))
    add("Referral double bonus", "referral", bonus, bonus + 30, 3.0)
    count = len(names)
    return Campaigns(
        ids=tuple(f"cmp{i + 1:03d}" for i in range(count)),
        names=tuple(names),
        channel=np.asarray(channels, dtype=np.int64),
        first_day=np.asarray(first, dtype=np.int64),
        last_day=np.asarray(last, dtype=np.int64),
        weight=np.asarray(weights, dtype=np.float64),
    )


def _touch_appeal(campaigns: Campaigns) -> FloatArray:
    """How often a running campaign touches contacts it did not source (retargeting)."""
    appeal = {
        "ads": 1.5,
        "social": 1.0,
        "email": 1.6,
        "event": 0.2,
        "partner": 0.2,
        "referral": 0.1,
    }
    names = [CHANNEL_NAMES[c] for c in campaigns.channel.tolist()]
    return np.asarray([appeal[name] for name in names], dtype=np.float64)


def _build_acquisition(calendar: Calendar, campaigns: Campaigns) -> Acquisition:
    active = campaigns.active(calendar.days).astype(np.float64)
    cells: list[FloatArray] = []
    sources: list[IntArray] = []
    expected = np.zeros(len(campaigns), dtype=np.float64)
    for index, profile in enumerate(CHANNELS):
        volume = calendar.season * np.asarray(profile.weekdays)[calendar.weekday]
        own = np.flatnonzero(campaigns.channel == index)
        organic_mass = volume / volume.sum() * profile.organic_share
        if own.size:
            grid = active[:, own] * campaigns.weight[own][None, :] * volume[:, None]
            grid *= (1.0 - profile.organic_share) / grid.sum()
        else:
            organic_mass = volume / volume.sum()
            grid = np.zeros((calendar.days, 0))
        table = np.concatenate([organic_mass[:, None], grid], axis=1)
        cumulative = np.cumsum(table.ravel())
        cumulative /= cumulative[-1]
        cells.append(cumulative)
        sources.append(own.astype(np.int64))
        expected[own] = grid.sum(axis=0) * profile.share
    return Acquisition(tuple(cells), tuple(sources), expected)


def cents_to_decimal(cents: IntArray) -> pa.Array:
    """Integer cents as a decimal128(18, 2) array (exact, no float rounding)."""
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # sign extension of the 128-bit value
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), cents.size, [None, pa.py_buffer(words.tobytes())]
    )


def _build_spend(
    contacts: int,
    calendar: Calendar,
    campaigns: Campaigns,
    acquisition: Acquisition,
    rng: np.random.Generator,
) -> pa.Table:
    days: list[IntArray] = []
    channels: list[IntArray] = []
    campaign: list[IntArray] = []
    category_of: list[IntArray] = []
    amounts: list[FloatArray] = []
    category_codes = {name: code for code, name in enumerate(
        ("media", "events", "tools", "salaries", "agency", "other")
    )}  # fmt: skip

    def emit(
        day: IntArray, channel: int, campaign_index: int, category: str, amount: FloatArray
    ) -> None:
        days.append(day)
        channels.append(np.full(day.size, channel, dtype=np.int64))
        campaign.append(np.full(day.size, campaign_index, dtype=np.int64))
        category_of.append(np.full(day.size, category_codes[category], dtype=np.int64))
        amounts.append(amount)

    # Campaign spend: one row a day while the campaign runs (media, tools, events, ...),
    # sized on the contacts it is expected to bring, plus a monthly agency fee for ads.
    for k in range(len(campaigns)):
        channel = int(campaigns.channel[k])
        profile = CHANNELS[channel]
        day = np.arange(campaigns.first_day[k], campaigns.last_day[k] + 1)
        budget = acquisition.expected_campaign_share[k] * contacts * profile.campaign_cost_per_lead
        shape = calendar.season[day] * (
            0.6 + 0.4 * np.asarray(profile.weekdays)[calendar.weekday[day]]
        )
        shape = shape * rng.lognormal(0.0, 0.15, day.size)
        emit(day, channel, k, CAMPAIGN_SPEND_CATEGORY[profile.name], budget * shape / shape.sum())
        if profile.name == "ads":
            starts = day[np.r_[True, calendar.month[day][1:] != calendar.month[day][:-1]]]
            fee = np.full(starts.size, 0.08 * budget / max(starts.size, 1)) * rng.uniform(
                0.9, 1.1, starts.size
            )
            emit(starts, channel, k, "agency", fee)
    # Channel-level costs (salaries, tools, ...): one row per month, booked on its first day.
    month_starts = np.flatnonzero(np.r_[True, calendar.month[1:] != calendar.month[:-1]])
    month_ends = np.r_[month_starts[1:], calendar.days]
    for channel, profile in enumerate(CHANNELS):
        if not profile.channel_costs:
            continue
        channel_volume = calendar.season / calendar.season.sum() * profile.share
        monthly = np.add.reduceat(channel_volume, month_starts) * contacts
        # Salaries and tools are mostly fixed: smooth the monthly volume towards its mean.
        monthly = 0.7 * monthly.mean() * (month_ends - month_starts) / 30.4 + 0.3 * monthly
        for category, cost_per_lead in profile.channel_costs:
            amount = monthly * cost_per_lead * rng.uniform(0.95, 1.05, monthly.size)
            emit(month_starts.astype(np.int64), channel, -1, category, amount)
    day_all = np.concatenate(days)
    channel_all = np.concatenate(channels)
    campaign_all = np.concatenate(campaign)
    category_all = np.concatenate(category_of)
    cents = np.round(np.concatenate(amounts) * 100.0).astype(np.int64)
    order = np.lexsort((category_all, campaign_all, channel_all, day_all))
    day_all, channel_all, campaign_all, category_all, cents = (
        day_all[order], channel_all[order], campaign_all[order], category_all[order], cents[order]
    )  # fmt: skip
    campaign_ids = pa.array(campaigns.ids, pa.string()).take(
        pa.array(campaign_all, mask=campaign_all < 0)
    )
    category_names = pa.array(tuple(category_codes), pa.string()).take(pa.array(category_all))
    spent_on = np.datetime64(calendar.start.isoformat(), "D") + day_all.astype("timedelta64[D]")
    return pa.table(
        {
            "spent_on": pa.array(spent_on, pa.date32()),
            "amount": cents_to_decimal(np.maximum(cents, 0)),
            "channel": pa.array(CHANNEL_NAMES, pa.string()).take(pa.array(channel_all)),
            "campaign_id": campaign_ids,
            "category": category_names,
        }
    )
