"""The per-contact simulation: one chunk of contacts and everything that happens to them.

The model, in the order it is drawn (all vectorised over the chunk):

1. Acquisition: channel, then day and sourcing campaign from the channel's (day x source)
   grid (`company.Acquisition`): seasonality, weekday effects and campaign calendars.
2. Lead quality (logit scale) = channel base + fit (industry, size, job title) + noise.
3. Engagement episodes: a Poisson number (more for better leads), spaced by growing
   exponential gaps. Each episode leaves a predictive interaction (form_submit,
   store_visit, call, meeting; demo and quote_sent on sales deals) and may convert the
   contact with probability sigmoid(quality + channel bias + rep skill - decay), after a
   short delay. So the hazard of converting truly rises in the weeks after those
   interactions, while background ones (web_visit, email_open, email_click) are drawn
   independently of the outcome.
4. Deals for contacts a rep works as a sales opportunity: won at conversion, lost after the
   last episode, open when neither happened before the end of the history. The rep's
   skill shifts the win probability regardless of lead quality.
5. Customers: a first order (or a subscription start) at conversion, then repeat orders
   from a Pareto/NBD process (gamma purchase rates, exponential lifetimes with gamma
   dropout rates) thinned by seasonality, with gamma-gamma order values.
6. Touchpoints: interactions carrying the campaign that made them, at creation for
   sourced contacts and in between creation and conversion (retargeting, newsletters).

Times are integer minutes since the window's first local midnight. Every clock time is
drawn from hours outside 01:00-04:00, and every derived time goes through `_avoid_night`,
so no timestamp ever falls in a daylight-saving gap or overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from pilotage.demo import vocabulary as vocab
from pilotage.demo.company import (
    CHANNEL_INDEX,
    CHANNEL_NAMES,
    CHANNELS,
    CLOCK_NAMES,
    CLOCKS,
    MINUTES_PER_DAY,
    STORE,
    Calendar,
    Company,
    FloatArray,
    IntArray,
    cents_to_decimal,
    chunk_rng,
)

BoolArray = NDArray[np.bool_]

INTERACTION_TYPES: tuple[str, ...] = (
    "web_visit",
    "email_open",
    "email_click",
    "form_submit",
    "ad_click",
    "social_click",
    "call",
    "meeting",
    "demo",
    "store_visit",
    "quote_sent",
    "support_ticket",
    "event_attended",
)
_TYPE = {name: code for code, name in enumerate(INTERACTION_TYPES)}
# Channel of a touch that no campaign made, by interaction type (-1: none).
_TYPE_CHANNEL = np.asarray(
    [
        CHANNEL_INDEX.get(name, -1)
        for name in (
            "web", "email", "email", "web", "ads", "social", "phone",
            "-", "-", "store", "email", "-", "event",
        )
    ],
    dtype=np.int64,
)  # fmt: skip
# The interaction an engagement episode leaves, by acquisition channel.
_EPISODE_TYPE = np.asarray(
    [
        _TYPE[{"web": "form_submit", "store": "store_visit", "phone": "call",
               "email": "form_submit", "event": "meeting", "referral": "meeting",
               "partner": "meeting", "social": "form_submit", "ads": "form_submit"}[name]]
        for name in CHANNEL_NAMES
    ],
    dtype=np.int64,
)  # fmt: skip
_WEB, _BUSINESS, _STORE_CLOCK = (CLOCK_NAMES.index(name) for name in ("web", "business", "store"))
_CLOCK_P = tuple(
    np.asarray(CLOCKS[name], dtype=np.float64) / sum(CLOCKS[name]) for name in CLOCK_NAMES
)
_CHANNEL_CLOCK = np.asarray([CLOCK_NAMES.index(p.clock) for p in CHANNELS], dtype=np.int64)
_CHANNEL_TOUCH = np.asarray([_TYPE[p.touch_type] for p in CHANNELS], dtype=np.int64)
_SHARES = np.asarray([p.share for p in CHANNELS]) / sum(p.share for p in CHANNELS)

ORDER_CHANNELS = (CHANNEL_INDEX["web"], CHANNEL_INDEX["store"], CHANNEL_INDEX["phone"])
ORDER_STATUSES = ("paid", "refunded", "cancelled")
_NO_SUCCESS = np.iinfo(np.int64).max

# Width of the zero-padded number in generated ids (a larger number simply grows longer).
ID_WIDTHS = {"interactions": 9, "deals": 7, "orders": 8, "subscriptions": 7}
ID_PREFIXES = {
    "contacts": "c",
    "interactions": "i",
    "deals": "d",
    "orders": "o",
    "subscriptions": "s",
}


@dataclass
class Counters:
    """Next number of each generated id; chunks are written in order, so ids are stable."""

    interactions: int = 1
    deals: int = 1
    orders: int = 1
    subscriptions: int = 1


# --------------------------------------------------------------------------- helpers


def _explode(counts: IntArray) -> tuple[IntArray, IntArray]:
    """For per-owner counts, the owner index and the rank of each exploded item."""
    owner = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(owner.size, dtype=np.int64) - np.repeat(starts, counts)
    return owner, rank


def _clock(rng: np.random.Generator, kind: IntArray) -> IntArray:
    """Minute of the day for each event, drawn from the hours of its clock kind."""
    minutes = np.empty(kind.size, dtype=np.int64)
    for code in range(len(CLOCK_NAMES)):
        where = np.flatnonzero(kind == code)
        hours = rng.choice(24, size=where.size, p=_CLOCK_P[code])
        minutes[where] = hours * 60 + rng.integers(0, 60, where.size)
    return minutes


def _stamp(
    rng: np.random.Generator, calendar: Calendar, day: FloatArray, kind: IntArray
) -> IntArray:
    """A timestamp (minutes) on the given day, at a time of that clock kind.

    Business events move from the weekend to Monday; the stores are closed on Sunday.
    """
    whole = np.floor(day).astype(np.int64)
    weekday = calendar.weekday_of(whole)
    business = kind == _BUSINESS
    whole = whole + np.where(business & (weekday == 5), 2, 0)
    whole = whole + np.where((business | (kind == _STORE_CLOCK)) & (weekday == 6), 1, 0)
    stamped: IntArray = whole * MINUTES_PER_DAY + _clock(rng, kind)
    return stamped


def _avoid_night(minute: IntArray) -> IntArray:
    """Moves a time between 01:00 and 04:00 to 04:00 (only later, so order is kept)."""
    time_of_day = minute % MINUTES_PER_DAY
    night = (time_of_day >= 60) & (time_of_day < 240)
    moved: IntArray = np.where(night, minute + 240 - time_of_day, minute)
    return moved


def _group_cumsum(values: FloatArray, counts: IntArray) -> FloatArray:
    """Cumulative sums restarting at each group of the exploded layout."""
    total = np.cumsum(values)
    starts = np.cumsum(counts) - counts
    before = (total - values)[starts[counts > 0]]
    result: FloatArray = total - np.repeat(before, counts[counts > 0])
    return result


def _group_cummax(values: IntArray, owner: IntArray) -> IntArray:
    """Running maximum inside each owner's group (owner sorted ascending, values >= 0)."""
    shift = np.int64(1) << np.int64(40)
    result: IntArray = np.maximum.accumulate(owner * shift + values) - owner * shift
    return result


def _sigmoid(x: FloatArray) -> FloatArray:
    result: FloatArray = 1.0 / (1.0 + np.exp(-x))
    return result


def _ids(prefix: str, numbers: IntArray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, text, "")


def _take(values: pa.Array, index: IntArray) -> pa.Array:
    """values[index], null where index < 0."""
    return values.take(pa.array(index, mask=index < 0))


def timestamps(calendar: Calendar, minutes: IntArray, valid: BoolArray | None = None) -> pa.Array:
    """Naive local timestamps (seconds) from minutes since the window's start."""
    start = np.datetime64(calendar.start.isoformat(), "s").astype(np.int64)
    seconds = (start + minutes * 60).astype("datetime64[s]")
    return pa.array(seconds, pa.timestamp("s"), mask=None if valid is None else ~valid)


# --------------------------------------------------------------------------- the chunk


@dataclass
class _Interactions:
    """Interactions accumulated while simulating, as parallel arrays."""

    contact: list[IntArray]
    minute: list[IntArray]
    type: list[IntArray]
    channel: list[IntArray]
    campaign: list[IntArray]
    rep: list[IntArray]

    def add(
        self,
        contact: IntArray,
        minute: IntArray,
        kind: IntArray | int,
        rep: IntArray | None = None,
        campaign: IntArray | None = None,
        channel: IntArray | None = None,
    ) -> None:
        size = contact.size
        kinds = np.broadcast_to(np.asarray(kind, dtype=np.int64), (size,)).copy()
        self.contact.append(contact)
        self.minute.append(minute)
        self.type.append(kinds)
        self.channel.append(_TYPE_CHANNEL[kinds] if channel is None else channel)
        self.campaign.append(np.full(size, -1, dtype=np.int64) if campaign is None else campaign)
        self.rep.append(np.full(size, -1, dtype=np.int64) if rep is None else rep)


class _Static:
    """Arrow arrays of the vocabulary, built once per company."""

    def __init__(self, company: Company) -> None:
        self.channels = pa.array(CHANNEL_NAMES, pa.string())
        self.types = pa.array(INTERACTION_TYPES, pa.string())
        self.campaigns = pa.array(company.campaigns.ids, pa.string())
        self.reps = pa.array(company.reps.ids, pa.string())
        self.first = pa.array([f for f, _ in vocab.FIRST_NAMES], pa.string())
        self.first_ascii = pa.array([a for _, a in vocab.FIRST_NAMES], pa.string())
        self.last = pa.array([f for f, _ in vocab.LAST_NAMES], pa.string())
        self.last_ascii = pa.array([a for _, a in vocab.LAST_NAMES], pa.string())
        self.prefix = pa.array([f for f, _ in vocab.COMPANY_PREFIXES], pa.string())
        self.prefix_ascii = pa.array([a for _, a in vocab.COMPANY_PREFIXES], pa.string())
        self.suffix = pa.array([f for f, _ in vocab.COMPANY_SUFFIXES], pa.string())
        self.suffix_ascii = pa.array([a for _, a in vocab.COMPANY_SUFFIXES], pa.string())
        self.domains = pa.array(vocab.PERSONAL_EMAIL_DOMAINS, pa.string())
        self.industries = pa.array([name for name, _, _ in vocab.INDUSTRIES], pa.string())
        self.industry_effect = np.asarray([e for _, e, _ in vocab.INDUSTRIES])
        self.industry_p = _normalised([s for _, _, s in vocab.INDUSTRIES])
        self.jobs = pa.array([name for name, _, _ in vocab.JOB_TITLES], pa.string())
        self.job_effect = np.asarray([e for _, e, _ in vocab.JOB_TITLES])
        self.job_p = _normalised([s for _, _, s in vocab.JOB_TITLES])
        self.countries = pa.array([name for name, _, _ in vocab.COUNTRIES], pa.string())
        self.country_p = _normalised([share for _, share, _ in vocab.COUNTRIES])
        cities = [
            (c, city, share) for c, (_, _, ci) in enumerate(vocab.COUNTRIES) for city, share in ci
        ]
        self.cities = pa.array([city for _, city, _ in cities], pa.string())
        self.city_country = np.asarray([c for c, _, _ in cities], dtype=np.int64)
        self.city_p = tuple(
            _normalised([share for c, _, share in cities if c == country])
            for country in range(len(vocab.COUNTRIES))
        )
        self.city_offset = np.asarray(
            [
                next(i for i, (c, _, _) in enumerate(cities) if c == k)
                for k in range(len(vocab.COUNTRIES))
            ]
        )
        names = [city for _, city, _ in cities]
        self.store_city = np.asarray([names.index(city) for city in vocab.STORE_CITIES])
        self.phone_prefix = pa.array(["+33", "+32", "+41", "+352"], pa.string())
        self.lost_reasons = pa.array(vocab.LOST_REASONS, pa.string())
        self.plans = pa.array([name for name, _ in vocab.PLANS], pa.string())
        self.plan_price = np.asarray([price for _, price in vocab.PLANS])
        self.statuses = pa.array(ORDER_STATUSES, pa.string())
        self.deal_statuses = pa.array(("open", "won", "lost"), pa.string())


def _normalised(weights: list[float]) -> FloatArray:
    array = np.asarray(weights, dtype=np.float64)
    result: FloatArray = array / array.sum()
    return result


class ChunkSimulator:
    """Simulates chunks of contacts of one company; call `chunk` in increasing order."""

    def __init__(self, company: Company) -> None:
        self.company = company
        self.static = _Static(company)
        self.counters = Counters()
        self.contact_id_width = max(6, len(str(company.contacts)))

    def chunk(self, index: int, first_number: int, size: int) -> dict[str, pa.Table]:
        """Tables (typed, contract column order) of contacts first_number.. first+size-1."""
        return _simulate(self, chunk_rng(self.company.seed, index), first_number, size)


def _simulate(
    sim: ChunkSimulator, rng: np.random.Generator, first_number: int, n: int
) -> dict[str, pa.Table]:
    company = sim.company
    calendar = company.calendar
    static = sim.static
    reps = company.reps
    end = calendar.end_minute
    days = calendar.days
    contacts = np.arange(n, dtype=np.int64)

    # ---- 1. acquisition: channel, day, campaign, time of day
    channel = rng.choice(len(CHANNELS), size=n, p=_SHARES)
    created_day = np.zeros(n, dtype=np.int64)
    source = np.full(n, -1, dtype=np.int64)
    for c, cells in enumerate(company.acquisition.cells):
        members = np.flatnonzero(channel == c)
        width = 1 + company.acquisition.sources[c].size
        cell = np.minimum(
            np.searchsorted(cells, rng.random(members.size), side="right"), cells.size - 1
        )
        created_day[members] = cell // width
        if width > 1:
            column = cell % width
            source[members] = np.where(
                column > 0, company.acquisition.sources[c][np.maximum(column - 1, 0)], -1
            )
    created = created_day * MINUTES_PER_DAY + _clock(rng, _CHANNEL_CLOCK[channel])
    is_store = channel == STORE

    # ---- 2. who they are
    b2b = rng.random(n) < np.asarray([p.b2b_share for p in CHANNELS])[channel]
    country = rng.choice(len(vocab.COUNTRIES), size=n, p=static.country_p)
    city = np.empty(n, dtype=np.int64)
    for k, p in enumerate(static.city_p):
        members = np.flatnonzero(country == k)
        city[members] = static.city_offset[k] + rng.choice(p.size, size=members.size, p=p)
    store_count = len(reps.store_team)
    store_p = _normalised([0.6, 0.4][:store_count])
    store_index = rng.choice(store_count, size=n, p=store_p)
    city = np.where(is_store, static.store_city[store_index], city)
    country = np.where(is_store, 0, country)
    industry = np.where(b2b, rng.choice(static.industry_p.size, size=n, p=static.industry_p), -1)
    job = np.where(b2b, rng.choice(static.job_p.size, size=n, p=static.job_p), -1)
    employees = np.where(
        b2b, np.clip(np.round(rng.lognormal(np.log(18.0), 1.3, n)), 1, 20000), -1
    ).astype(np.int64)
    has_owner = rng.random(n) < np.asarray([p.owner_share for p in CHANNELS])[channel]
    team = np.where(is_store, np.asarray(reps.store_team)[store_index], reps.inside_team)
    owner = np.full(n, -1, dtype=np.int64)
    for t, members_of_team in enumerate(reps.team_members):
        members = np.flatnonzero(has_owner & (team == t))
        owner[members] = members_of_team[rng.integers(0, members_of_team.size, members.size)]
    fit = np.where(
        b2b,
        static.industry_effect[np.maximum(industry, 0)]
        + static.job_effect[np.maximum(job, 0)]
        + 0.25 * np.log10(np.maximum(employees, 1) / 20.0),
        0.0,
    )
    quality = np.asarray([p.base_quality for p in CHANNELS])[channel] + fit + rng.normal(0, 0.8, n)

    # ---- 3. engagement episodes and conversion
    episodes_mean = np.asarray([p.episodes_mean for p in CHANNELS])[channel] * np.exp(
        0.35 * quality
    )
    count = np.minimum(rng.poisson(episodes_mean), 6)
    count = np.where(is_store, np.maximum(count, 1), count)
    e_contact, e_rank = _explode(count)
    first_gap = np.asarray([p.first_episode_days for p in CHANNELS])[channel[e_contact]]
    gap = np.where(
        e_rank == 0,
        rng.exponential(1.0, e_contact.size) * first_gap,
        rng.exponential(1.0, e_contact.size) * 30.0 * (1.0 + 0.5 * e_rank),
    )
    episode_day = created[e_contact] / MINUTES_PER_DAY + _group_cumsum(gap, count)
    episode_clock = _CHANNEL_CLOCK[channel[e_contact]]
    episode = _stamp(rng, calendar, episode_day, episode_clock)
    store_visit_at_creation = (e_rank == 0) & is_store[e_contact]
    episode = np.where(store_visit_at_creation, created[e_contact], episode)
    episode = _avoid_night(
        np.maximum(episode, created[e_contact] + np.where(store_visit_at_creation, 0, 5))
    )
    episode = _group_cummax(episode, e_contact)

    deal_path = has_owner & (b2b | (is_store & (rng.random(n) < 0.25))) & (count > 0)
    logit = (
        quality[e_contact]
        + np.asarray([p.conversion_bias for p in CHANNELS])[channel[e_contact]]
        + np.where(deal_path[e_contact], reps.skill[np.maximum(owner[e_contact], 0)], 0.0)
        - 0.5 * e_rank
    )
    success = rng.random(e_contact.size) < _sigmoid(logit)
    starts = np.cumsum(count) - count
    nonempty = count > 0
    first_success = np.full(n, _NO_SUCCESS, dtype=np.int64)
    if e_contact.size:
        first_success[nonempty] = np.minimum.reduceat(
            np.where(success, e_rank, _NO_SUCCESS), starts[nonempty]
        )
    succeeded = first_success != _NO_SUCCESS
    # `episode` padded with one sentinel, so that contacts without an episode index it safely
    padded = np.append(episode, 0)
    winning_episode = padded[
        np.where(succeeded, starts + np.where(succeeded, first_success, 0), e_contact.size)
    ]
    first_ep_time = np.where(nonempty, padded[np.where(nonempty, starts, e_contact.size)], end)
    store_path = is_store & ~deal_path
    immediate = store_path & (rng.random(n) < 0.7) & (first_success == 0)
    delay = np.where(
        deal_path,
        rng.gamma(2.0, 12.0, n),
        np.where(store_path, rng.gamma(1.5, 3.0, n), rng.gamma(1.2, 5.0, n)),
    )
    delay_clock = np.where(deal_path, _BUSINESS, np.where(store_path, _STORE_CLOCK, _WEB))
    conversion = _stamp(rng, calendar, winning_episode / MINUTES_PER_DAY + delay, delay_clock)
    conversion = np.where(immediate, winning_episode + rng.integers(10, 50, n), conversion)
    conversion = _avoid_night(np.maximum(conversion, winning_episode + 10))
    converted = succeeded & (conversion < end)

    # Episodes after the converting one are not simulated (the customer phase takes over).
    kept = (e_rank <= first_success[e_contact]) & (episode < end)
    converting_episode = succeeded[e_contact] & (e_rank == first_success[e_contact])

    # A few store buyers are registered only after they paid (loyalty card at the till).
    late = immediate & converted & (rng.random(n) < 0.05)
    late_created = _avoid_night(conversion + rng.integers(5, 90, n))
    late &= late_created < end
    created = np.where(late, late_created, created)

    interactions = _Interactions([], [], [], [], [], [])
    ep_contact = e_contact[kept]
    ep_time = episode[kept]
    ep_type = _EPISODE_TYPE[channel[ep_contact]]
    ep_rep = np.where(np.isin(ep_type, (_TYPE["form_submit"],)), -1, owner[ep_contact])
    interactions.add(ep_contact, ep_time, ep_type, rep=ep_rep)
    # the rep calls back after a form or a meeting
    callback = (
        kept & (owner[e_contact] >= 0) & ~is_store[e_contact] & (rng.random(e_contact.size) < 0.5)
    )
    callback_time = _avoid_night(
        np.maximum(
            _stamp(
                rng,
                calendar,
                episode / MINUTES_PER_DAY + rng.gamma(1.0, 1.0, e_contact.size),
                np.full(e_contact.size, _BUSINESS),
            ),
            episode + 15,
        )
    )
    interactions.add(
        e_contact[callback], callback_time[callback], _TYPE["call"], rep=owner[e_contact[callback]]
    )
    # demos and quotes on sales deals, before the conversion when the episode converts
    on_deal = kept & deal_path[e_contact]
    window = np.where(
        converting_episode,
        (conversion[e_contact] - episode) / MINUTES_PER_DAY,
        21.0,
    )
    for kind, low, high, share in (("demo", 0.15, 0.5, 0.7), ("quote_sent", 0.5, 0.95, 0.65)):
        chosen = on_deal & (rng.random(e_contact.size) < share)
        at_day = episode / MINUTES_PER_DAY + rng.uniform(low, high, e_contact.size) * window
        at = _avoid_night(
            np.maximum(
                _stamp(rng, calendar, at_day, np.full(e_contact.size, _BUSINESS)), episode + 30
            )
        )
        chosen &= (at < end) & (~converting_episode | (at < conversion[e_contact]))
        interactions.add(e_contact[chosen], at[chosen], _TYPE[kind], rep=owner[e_contact[chosen]])

    # ---- 4. subscriptions (needed first: a deal won by a subscription is worth a year of it)
    subscription_first = converted & (rng.random(n) < np.where(deal_path, 0.3, 0.04))
    late_subscriber = converted & ~subscription_first & (rng.random(n) < 0.07)
    late_start = _avoid_night(
        np.maximum(
            _stamp(
                rng,
                calendar,
                conversion / MINUTES_PER_DAY
                + rng.random(n) * np.maximum(days - conversion / MINUTES_PER_DAY, 0),
                np.full(n, _WEB),
            ),
            conversion + 60,
        )
    )
    late_subscriber &= late_start < end
    sub_contact = np.flatnonzero(subscription_first | late_subscriber)
    sub_start = np.where(subscription_first, conversion, late_start)[sub_contact]
    plan_p = np.where(b2b[sub_contact, None], [0.3, 0.45, 0.25], [0.7, 0.3, 0.0])
    plan = (rng.random(sub_contact.size)[:, None] > np.cumsum(plan_p, axis=1)).sum(axis=1)
    plan = np.minimum(plan, static.plan_price.size - 1)
    discount = rng.choice(np.asarray([1.0, 0.9, 0.8]), size=sub_contact.size, p=[0.7, 0.2, 0.1])
    mrr_cents = np.round(static.plan_price[plan] * discount * 100).astype(np.int64)
    churn = rng.beta(1.3, 14.0, sub_contact.size)
    months = rng.geometric(churn)
    sub_end = sub_start + np.round(months * 30.44).astype(np.int64) * MINUTES_PER_DAY
    sub_ended = sub_end < end
    first_mrr = np.zeros(n, dtype=np.int64)
    first_mrr[sub_contact] = mrr_cents

    # ---- 5. deals
    deal_contact = np.flatnonzero(deal_path & (count > 0))
    first_episode = first_ep_time[deal_contact]
    deal_created = _avoid_night(
        np.maximum(
            _stamp(
                rng,
                calendar,
                first_episode / MINUTES_PER_DAY + rng.uniform(0.2, 3.0, deal_contact.size),
                np.full(deal_contact.size, _BUSINESS),
            ),
            first_episode + 5,
        )
    )
    deal_won = converted[deal_contact]
    deal_created = np.where(
        deal_won, np.minimum(deal_created, conversion[deal_contact]), deal_created
    )
    last_kept = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_kept, e_contact[kept], episode[kept])
    lost_at = _avoid_night(
        np.maximum(
            _stamp(
                rng,
                calendar,
                np.maximum(last_kept[deal_contact], deal_created) / MINUTES_PER_DAY
                + 1.0
                + rng.gamma(2.0, 8.0, deal_contact.size),
                np.full(deal_contact.size, _BUSINESS),
            ),
            deal_created + 60,
        )
    )
    deal_lost = ~succeeded[deal_contact] & (lost_at < end)
    deal_closed = np.where(deal_won, conversion[deal_contact], lost_at)
    size_scale = np.where(
        b2b[deal_contact],
        np.log(1800.0) + 0.3 * np.log(np.maximum(employees[deal_contact], 1) / 20.0),
        np.log(900.0),
    )
    deal_cents = np.round(rng.lognormal(size_scale, 0.5)).astype(np.int64) * 100
    deal_cents = np.where(
        subscription_first[deal_contact], 12 * first_mrr[deal_contact], deal_cents
    )
    deal_cents = np.maximum(deal_cents, 100)
    in_window = deal_created < end
    deal_amount_of = np.zeros(n, dtype=np.int64)
    deal_amount_of[deal_contact] = np.where(deal_won, deal_cents, 0)

    # ---- 6. journey stages
    mql = (count > 0) & ~is_store & (first_ep_time < end) & (rng.random(n) < 0.85)
    has_deal = np.zeros(n, dtype=np.bool_)
    has_deal[deal_contact[in_window]] = True
    deal_created_of = np.full(n, end, dtype=np.int64)
    deal_created_of[deal_contact] = deal_created
    sql_time = _avoid_night(
        np.maximum(first_ep_time + 5, deal_created_of - rng.integers(0, MINUTES_PER_DAY, n))
    )
    sql_time = np.minimum(sql_time, deal_created_of)
    sql = has_deal & (rng.random(n) < 0.8)
    stage_parts = [
        (contacts, created, 0),
        (contacts[mql], first_ep_time[mql], 1),
        (contacts[sql], sql_time[sql], 2),
        (contacts[has_deal], deal_created_of[has_deal], 3),
        (contacts[converted], conversion[converted], 4),
    ]

    # ---- 7. touchpoints
    campaigns = company.campaigns
    sourced = source >= 0
    interactions.add(
        contacts[sourced],
        created[sourced],
        _CHANNEL_TOUCH[campaigns.channel[source[sourced]]],
        campaign=source[sourced],
        channel=campaigns.channel[source[sourced]],
    )
    extra_mean = np.where(sourced, 1.8, np.where(is_store, 0.1, 0.35))
    horizon = np.where(converted, conversion, np.minimum(created + 60 * MINUTES_PER_DAY, end))
    touch_count = np.where(horizon > created, rng.poisson(extra_mean), 0)
    t_contact, _ = _explode(touch_count)
    t_day = (
        created[t_contact] + rng.random(t_contact.size) * (horizon - created)[t_contact]
    ) / MINUTES_PER_DAY
    t_time = _stamp(rng, calendar, t_day, np.full(t_contact.size, _WEB))
    t_ok = (t_time > created[t_contact]) & (t_time < horizon[t_contact]) & (t_time < end)
    t_contact, t_time = t_contact[t_ok], t_time[t_ok]
    t_dayi = t_time // MINUTES_PER_DAY
    t_source = source[t_contact]
    same = (t_source >= 0) & (rng.random(t_contact.size) < 0.6)
    same &= (campaigns.first_day[np.maximum(t_source, 0)] <= t_dayi) & (
        campaigns.last_day[np.maximum(t_source, 0)] >= t_dayi
    )
    row = company.touch_cumulative[t_dayi]
    total = row[:, -1] if row.shape[1] else np.zeros(t_contact.size)
    other = (row < (rng.random(t_contact.size) * total)[:, None]).sum(axis=1)
    t_campaign = np.where(same, t_source, np.minimum(other, len(campaigns) - 1))
    t_ok = same | (total > 0)
    t_contact, t_time, t_campaign = t_contact[t_ok], t_time[t_ok], t_campaign[t_ok]
    interactions.add(
        t_contact,
        t_time,
        _CHANNEL_TOUCH[campaigns.channel[t_campaign]],
        campaign=t_campaign,
        channel=campaigns.channel[t_campaign],
    )

    # ---- 8. background interactions (drawn independently of the outcome)
    has_email = rng.random(n) < 0.93
    life_end = np.minimum(created + rng.exponential(150.0, n) * MINUTES_PER_DAY, end)
    # Newsletters reach every contact with an address at a steady rate until the end of
    # the history, so an open says little about intent; visits and clicks fade with time.
    newsletter_span = np.maximum(end - created, 0)
    for kind, mean, until in (
        ("web_visit", 1.2 * np.exp(0.15 * quality), life_end),
        (
            "email_open",
            np.where(has_email, 0.25 * newsletter_span / (30 * MINUTES_PER_DAY), 0.0),
            created + newsletter_span,
        ),
        ("email_click", np.where(has_email, 0.3, 0.0), life_end),
    ):
        b_contact, _ = _explode(rng.poisson(mean))
        b_day = (
            created[b_contact] + rng.random(b_contact.size) * (until - created)[b_contact]
        ) / MINUTES_PER_DAY
        b_time = _stamp(rng, calendar, b_day, np.full(b_contact.size, _WEB))
        ok = (b_time >= created[b_contact]) & (b_time < end)
        interactions.add(b_contact[ok], b_time[ok], _TYPE[kind])
    for kind, customer_mean, span in (("support_ticket", 0.35, 365.0), ("email_open", 1.5, 180.0)):
        eligible = converted if kind == "support_ticket" else converted & has_email
        c_contact, _ = _explode(np.where(eligible, rng.poisson(customer_mean, n), 0))
        c_day = (
            conversion[c_contact] + rng.random(c_contact.size) * span * MINUTES_PER_DAY
        ) / MINUTES_PER_DAY
        c_kind = np.full(c_contact.size, _BUSINESS if kind == "support_ticket" else _WEB)
        c_time = _stamp(rng, calendar, c_day, c_kind)
        ok = (c_time > conversion[c_contact]) & (c_time < end)
        interactions.add(c_contact[ok], c_time[ok], _TYPE[kind])

    # ---- 9. orders: first order at conversion, then Pareto/NBD repeat purchases
    customers = np.flatnonzero(converted)
    spend_rate = rng.gamma(4.0, 1.0 / 54.0, customers.size)  # gamma-gamma: nu ~ Gamma(q, gamma)
    value_scale = np.where(b2b[customers], 5.0, 1.0)
    purchase_rate = rng.gamma(0.9, 1.0 / (0.9 * 75.0), customers.size)  # per day
    purchase_rate *= np.where(b2b[customers], 0.6, 1.0) * np.where(
        subscription_first[customers], 0.3, 1.0
    )
    dropout_rate = rng.gamma(0.8, 1.0 / (0.8 * 365.0), customers.size)
    lifetime = rng.exponential(1.0, customers.size) / dropout_rate
    start_day = conversion[customers] / MINUTES_PER_DAY
    alive_end = np.minimum(start_day + lifetime, days)
    peak = float(calendar.season.max())
    repeat_count = rng.poisson(purchase_rate * peak * np.maximum(alive_end - start_day, 0.0))
    r_owner, _ = _explode(repeat_count)
    r_day = start_day[r_owner] + rng.random(r_owner.size) * (alive_end - start_day)[r_owner]
    r_keep = (
        rng.random(r_owner.size) * peak
        < calendar.season[np.minimum(np.floor(r_day).astype(np.int64), days - 1)]
    )
    r_owner, r_day = r_owner[r_keep], r_day[r_keep]

    preferred = np.full(customers.size, ORDER_CHANNELS[0], dtype=np.int64)
    u = rng.random(customers.size)
    c_channel = channel[customers]
    preferred = np.where(
        is_store[customers],
        np.where(u < 0.85, ORDER_CHANNELS[1], ORDER_CHANNELS[0]),
        np.where(
            deal_path[customers] | (c_channel == CHANNEL_INDEX["phone"]),
            np.where(u < 0.5, ORDER_CHANNELS[2], ORDER_CHANNELS[0]),
            np.where(
                u < 0.9, ORDER_CHANNELS[0], np.where(u < 0.95, ORDER_CHANNELS[1], ORDER_CHANNELS[2])
            ),
        ),
    )
    r_channel = np.where(
        rng.random(r_owner.size) < 0.8,
        preferred[r_owner],
        np.asarray(ORDER_CHANNELS)[rng.integers(0, 3, r_owner.size)],
    )
    r_clock = np.where(
        r_channel == ORDER_CHANNELS[1],
        _STORE_CLOCK,
        np.where(r_channel == ORDER_CHANNELS[2], _BUSINESS, _WEB),
    )
    r_time = _avoid_night(
        np.maximum(_stamp(rng, calendar, r_day, r_clock), conversion[customers][r_owner] + 30)
    )
    r_cents = np.round(
        rng.gamma(5.0, 1.0, r_owner.size) / spend_rate[r_owner] * value_scale[r_owner] * 100
    ).astype(np.int64)
    status_draw = rng.random(r_owner.size)
    r_status = np.where(status_draw < 0.04, 1, np.where(status_draw < 0.06, 2, 0))
    zero = (rng.random(r_owner.size) < 0.015) & (r_status == 0)
    r_cents = np.where(zero, 0, r_cents)
    r_ok = r_time < end

    first_order = ~subscription_first[customers]
    f_owner = np.flatnonzero(first_order)
    f_contact = customers[f_owner]
    f_cents = np.where(
        deal_amount_of[f_contact] > 0,
        deal_amount_of[f_contact],
        np.round(
            rng.gamma(5.0, 1.0, f_owner.size) / spend_rate[f_owner] * value_scale[f_owner] * 100
        ).astype(np.int64),
    )
    f_cents = np.maximum(f_cents, 100)  # the converting order is paid and positive
    f_channel = np.where(immediate[f_contact], ORDER_CHANNELS[1], preferred[f_owner])

    o_contact = np.concatenate([f_contact, customers[r_owner[r_ok]]])
    o_time = np.concatenate([conversion[f_contact], r_time[r_ok]])
    o_cents = np.concatenate([f_cents, r_cents[r_ok]])
    o_channel = np.concatenate([f_channel, r_channel[r_ok]])
    o_status = np.concatenate([np.zeros(f_contact.size, dtype=np.int64), r_status[r_ok]])
    with_margin = np.isin(o_channel, ORDER_CHANNELS[:2]) & (rng.random(o_contact.size) < 0.75)
    margin_cents = np.where(
        o_cents > 0,
        np.round(o_cents * rng.uniform(0.22, 0.55, o_contact.size)),
        -np.round(rng.uniform(5.0, 40.0, o_contact.size) * 100),  # a free replacement costs
    ).astype(np.int64)
    o_rep = np.where(np.isin(o_channel, ORDER_CHANNELS[1:]), owner[o_contact], -1)

    # ---- assemble the tables
    contact_ids = _ids("c", first_number + contacts, sim.contact_id_width)
    tables = {
        "contacts": _contacts_table(
            sim, rng, contact_ids, created, channel, source, owner, b2b, country, city,
            industry, employees, job, has_email,
        ),
        "stage_changes": _stage_table(sim, contact_ids, stage_parts),
        "interactions": _interactions_table(sim, contact_ids, interactions, end),
        "deals": _deals_table(
            sim, rng, contact_ids, deal_contact[in_window], owner, deal_created[in_window],
            deal_cents[in_window], deal_won[in_window], deal_lost[in_window],
            deal_closed[in_window],
        ),
        "orders": _orders_table(
            sim, contact_ids, o_contact, o_time, o_cents, o_channel, o_status, with_margin,
            margin_cents, o_rep,
        ),
        "subscriptions": _subscriptions_table(
            sim, contact_ids, sub_contact, sub_start, sub_end, sub_ended, mrr_cents, plan
        ),
    }  # fmt: skip
    return tables


def _contacts_table(
    sim: ChunkSimulator,
    rng: np.random.Generator,
    contact_ids: pa.Array,
    created: IntArray,
    channel: IntArray,
    source: IntArray,
    owner: IntArray,
    b2b: BoolArray,
    country: IntArray,
    city: IntArray,
    industry: IntArray,
    employees: IntArray,
    job: IntArray,
    has_email: BoolArray,
) -> pa.Table:
    static = sim.static
    n = created.size
    first = rng.integers(0, len(vocab.FIRST_NAMES), n)
    last = rng.integers(0, len(vocab.LAST_NAMES), n)
    prefix = rng.integers(0, len(vocab.COMPANY_PREFIXES), n)
    suffix = rng.integers(0, len(vocab.COMPANY_SUFFIXES), n)
    domain = rng.integers(0, len(vocab.PERSONAL_EMAIL_DOMAINS), n)
    number = rng.integers(1, 100, n)
    with_number = rng.random(n) < 0.4
    has_phone = rng.random(n) < 0.75
    mobile = rng.integers(600_000_000, 800_000_000, n)
    name = pc.binary_join_element_wise(static.first.take(first), static.last.take(last), " ")
    company_name = pc.binary_join_element_wise(
        static.prefix.take(prefix), static.suffix.take(suffix), " "
    )
    company_domain = pc.binary_join_element_wise(
        static.prefix_ascii.take(prefix), "-", static.suffix_ascii.take(suffix), ".fr", ""
    )
    personal_part = pc.binary_join_element_wise(
        static.first_ascii.take(first),
        ".",
        static.last_ascii.take(last),
        pc.if_else(pa.array(with_number), pc.cast(pa.array(number), pa.string()), ""),
        "@",
        "",
    )
    email = pc.binary_join_element_wise(
        personal_part,
        pc.if_else(pa.array(b2b), company_domain, static.domains.take(domain)),
        "",
    )
    email = pc.if_else(pa.array(has_email), email, pa.scalar(None, pa.string()))
    phone = pc.binary_join_element_wise(
        static.phone_prefix.take(country), pc.cast(pa.array(mobile), pa.string()), ""
    )
    phone = pc.if_else(pa.array(has_phone), phone, pa.scalar(None, pa.string()))
    nothing = pa.scalar(None, pa.string())
    return pa.table(
        {
            "contact_id": contact_ids,
            "created_at": timestamps(sim.company.calendar, created),
            "channel": static.channels.take(channel),
            "campaign_id": _take(static.campaigns, source),
            "owner_id": _take(static.reps, owner),
            "name": name,
            "email": email,
            "phone": phone,
            "company": pc.if_else(pa.array(b2b), company_name, nothing),
            "industry": _take(static.industries, industry),
            "country": static.countries.take(country),
            "city": static.cities.take(city),
            "employees": pa.array(employees, pa.int64(), mask=employees < 0),
            "job_title": _take(static.jobs, job),
        }
    )


def _stage_table(
    sim: ChunkSimulator,
    contact_ids: pa.Array,
    parts: list[tuple[IntArray, IntArray, int]],
) -> pa.Table:
    contact = np.concatenate([p[0] for p in parts])
    minute = np.concatenate([p[1] for p in parts])
    stage = np.concatenate([np.full(p[0].size, p[2], dtype=np.int64) for p in parts])
    order = np.lexsort((stage, minute, contact))
    stages = pa.array(("lead", "mql", "sql", "opportunity", "customer"), pa.string())
    return pa.table(
        {
            "contact_id": contact_ids.take(pa.array(contact[order])),
            "stage": stages.take(pa.array(stage[order])),
            "changed_at": timestamps(sim.company.calendar, minute[order]),
        }
    )


def _interactions_table(
    sim: ChunkSimulator, contact_ids: pa.Array, parts: _Interactions, end: int
) -> pa.Table:
    contact = np.concatenate(parts.contact)
    minute = np.concatenate(parts.minute)
    kind = np.concatenate(parts.type)
    channel = np.concatenate(parts.channel)
    campaign = np.concatenate(parts.campaign)
    rep = np.concatenate(parts.rep)
    keep = minute < end
    order = np.lexsort((kind[keep], minute[keep], contact[keep]))
    contact, minute, kind, channel, campaign, rep = (
        column[keep][order] for column in (contact, minute, kind, channel, campaign, rep)
    )
    first = sim.counters.interactions
    sim.counters.interactions += contact.size
    static = sim.static
    return pa.table(
        {
            "interaction_id": _ids(
                "i", np.arange(first, first + contact.size), ID_WIDTHS["interactions"]
            ),
            "contact_id": contact_ids.take(pa.array(contact)),
            "occurred_at": timestamps(sim.company.calendar, minute),
            "type": static.types.take(pa.array(kind)),
            "channel": _take(static.channels, channel),
            "campaign_id": _take(static.campaigns, campaign),
            "rep_id": _take(static.reps, rep),
        }
    )


def _deals_table(
    sim: ChunkSimulator,
    rng: np.random.Generator,
    contact_ids: pa.Array,
    contact: IntArray,
    owner: IntArray,
    created: IntArray,
    cents: IntArray,
    won: BoolArray,
    lost: BoolArray,
    closed: IntArray,
) -> pa.Table:
    status = np.where(won, 1, np.where(lost, 2, 0))
    reason = np.where(
        lost,
        rng.choice(len(vocab.LOST_REASONS), size=contact.size, p=_normalised([5, 4, 3, 3, 3, 2])),
        -1,
    )
    first = sim.counters.deals
    sim.counters.deals += contact.size
    static = sim.static
    return pa.table(
        {
            "deal_id": _ids("d", np.arange(first, first + contact.size), ID_WIDTHS["deals"]),
            "contact_id": contact_ids.take(pa.array(contact)),
            "rep_id": _take(static.reps, owner[contact]),
            "created_at": timestamps(sim.company.calendar, created),
            "amount": cents_to_decimal(cents),
            "status": static.deal_statuses.take(pa.array(status)),
            "closed_at": timestamps(sim.company.calendar, closed, won | lost),
            "lost_reason": _take(static.lost_reasons, reason),
        }
    )


def _orders_table(
    sim: ChunkSimulator,
    contact_ids: pa.Array,
    contact: IntArray,
    minute: IntArray,
    cents: IntArray,
    channel: IntArray,
    status: IntArray,
    with_margin: BoolArray,
    margin: IntArray,
    rep: IntArray,
) -> pa.Table:
    order = np.lexsort((minute, contact))
    contact, minute, cents, channel, status, margin, rep = (
        column[order] for column in (contact, minute, cents, channel, status, margin, rep)
    )
    with_margin = with_margin[order]
    first = sim.counters.orders
    sim.counters.orders += contact.size
    static = sim.static
    margin_array = pc.if_else(
        pa.array(with_margin), cents_to_decimal(margin), pa.scalar(None, pa.decimal128(18, 2))
    )
    return pa.table(
        {
            "order_id": _ids("o", np.arange(first, first + contact.size), ID_WIDTHS["orders"]),
            "contact_id": contact_ids.take(pa.array(contact)),
            "ordered_at": timestamps(sim.company.calendar, minute),
            "amount": cents_to_decimal(cents),
            "channel": static.channels.take(pa.array(channel)),
            "status": static.statuses.take(pa.array(status)),
            "margin": margin_array,
            "rep_id": _take(static.reps, rep),
        }
    )


def _subscriptions_table(
    sim: ChunkSimulator,
    contact_ids: pa.Array,
    contact: IntArray,
    start: IntArray,
    stop: IntArray,
    ended: BoolArray,
    mrr_cents: IntArray,
    plan: IntArray,
) -> pa.Table:
    first = sim.counters.subscriptions
    sim.counters.subscriptions += contact.size
    static = sim.static
    return pa.table(
        {
            "subscription_id": _ids(
                "s", np.arange(first, first + contact.size), ID_WIDTHS["subscriptions"]
            ),
            "contact_id": contact_ids.take(pa.array(contact)),
            "started_at": timestamps(sim.company.calendar, start),
            "ended_at": timestamps(sim.company.calendar, stop, ended),
            "mrr": cents_to_decimal(mrr_cents),
            "plan": static.plans.take(pa.array(plan)),
        }
    )
