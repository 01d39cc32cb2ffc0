"""Company settings (data-contract.md, "Settings"), with their defaults.

Settings come from `pilotage.toml` in a data folder, from `--config FILE`, from the CRM's
settings page, or from arguments. An unknown setting is an error that names it: a typo
must never silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pilotage.contract.schema import DEFAULT_JOURNEY_STAGES

SETTINGS_FILE_NAME = "pilotage.toml"
ATTRIBUTION_MODELS = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "markov",
)
WEEK_STARTS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class SettingsError(ValueError):
    """A setting is unknown or has a value it cannot take; the message names it."""


@dataclass(frozen=True)
class Settings:
    timezone: str = "UTC"
    currency: str = "EUR"
    week_start: str = "monday"
    inactivity_days: int = 365
    conversion_window_days: int = 90
    attribution_lookback_days: int = 90
    time_decay_half_life_days: float = 7.0
    revenue_window_days: int = 365
    gross_margin: float = 1.0
    journey_stages: tuple[str, ...] = field(default=DEFAULT_JOURNEY_STAGES)
    # Predictive CLV (scoring.md section 4): monthly discount rate and horizon.
    discount_rate: float = 0.01
    clv_horizon_months: int = 12
    # Levers (kpis.md "Recommendations"): fewest attributed customers to flag a lever.
    min_customers: int = 10
    # Attribution model behind the per-campaign KPIs (cac, roas, roi by campaign) when a
    # command does not name one (attribution.md lists the models).
    attribution_model: str = "linear"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"timezone: {self.timezone!r} is not a known time zone "
                "(use an IANA name such as 'Europe/Paris')"
            ) from None
        if self.week_start not in WEEK_STARTS:
            raise SettingsError(f"week_start: {self.week_start!r} is not one of {WEEK_STARTS}")
        for name in (
            "inactivity_days",
            "conversion_window_days",
            "attribution_lookback_days",
            "revenue_window_days",
            "clv_horizon_months",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name}: must be a positive number of days")
        if self.time_decay_half_life_days <= 0:
            raise SettingsError("time_decay_half_life_days: must be positive")
        if self.min_customers < 0:
            raise SettingsError("min_customers: must not be negative")
        if len(self.journey_stages) < 2 or len(set(self.journey_stages)) != len(
            self.journey_stages
        ):
            raise SettingsError("journey_stages: needs at least two distinct stages")
        if self.attribution_model not in ATTRIBUTION_MODELS:
            raise SettingsError(
                f"attribution_model: {self.attribution_model!r} is not one of "
                f"{', '.join(ATTRIBUTION_MODELS)}"
            )
        if len(self.currency) != 3 or not self.currency.isupper():
            raise SettingsError(f"currency: {self.currency!r} is not an ISO 4217 code like EUR")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["journey_stages"] = list(self.journey_stages)
        return values

    def replace(self, **changes: Any) -> Settings:
        return settings_from_mapping({**self.to_dict(), **changes}, origin="arguments")


SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Settings))


def settings_from_mapping(values: dict[str, Any], *, origin: str) -> Settings:
    """Build settings from a mapping, refusing unknown names and values of the wrong type."""
    unknown = sorted(set(values) - set(SETTING_NAMES))
    if unknown:
        raise SettingsError(
            f"{origin}: unknown setting {unknown[0]!r} (known settings: {', '.join(SETTING_NAMES)})"
        )
    defaults = Settings()
    converted: dict[str, Any] = {}
    for name, value in values.items():
        default = getattr(defaults, name)
        if isinstance(default, tuple):
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise SettingsError(f"{origin}: {name} must be a list of names")
            converted[name] = tuple(value)
        elif isinstance(default, bool) or isinstance(value, bool):
            raise SettingsError(f"{origin}: {name} must be a {type(default).__name__}")
        elif isinstance(default, float):
            if not isinstance(value, int | float):
                raise SettingsError(f"{origin}: {name} must be a number")
            converted[name] = float(value)
        elif isinstance(default, int):
            if not isinstance(value, int):
                raise SettingsError(f"{origin}: {name} must be a whole number")
            converted[name] = value
        else:
            if not isinstance(value, str):
                raise SettingsError(f"{origin}: {name} must be text")
            converted[name] = value
    try:
        return Settings(**converted)
    except SettingsError as error:
        raise SettingsError(f"{origin}: {error}") from None


def load_settings(config: Path | None = None, data_dir: Path | None = None) -> Settings:
    """Settings from `--config FILE`, else `pilotage.toml` in the data folder, else defaults."""
    path = config
    if path is None and data_dir is not None and (data_dir / SETTINGS_FILE_NAME).is_file():
        path = data_dir / SETTINGS_FILE_NAME
    if path is None:
        return Settings()
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such settings file") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: {error}") from None
    return settings_from_mapping(values, origin=str(path))
