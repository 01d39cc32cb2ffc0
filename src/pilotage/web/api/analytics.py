"""The analytical doors of the API: KPIs, attribution, levers, contact scores.

The engines live outside Django (`pilotage.engine`, `pilotage.attribution`) and are run on
the CRM database itself (`from_database_url`), exactly as `pilotage kpi --db ...` does;
the documents are the commands' `--format json` documents. The engines are imported
when first used, so that the API starts without loading them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote

from django.db import connection

from pilotage.contract.settings import Settings
from pilotage.web.api.errors import ApiError


def crm_database_url() -> str:
    """The URL of the database Django is connected to (the test database under tests)."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    if connection.vendor == "postgresql":
        user = quote(str(config.get("USER") or ""), safe="")
        password = quote(str(config.get("PASSWORD") or ""), safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = config.get("HOST") or "localhost"
        port = f":{config['PORT']}" if config.get("PORT") else ""
        return f"postgresql://{credentials}{host}{port}/{quote(str(config['NAME']), safe='')}"
    raise ApiError(503, "unavailable", f"analytics do not run on {connection.vendor}")


def company_settings() -> Settings:
    """The settings saved on the CRM's settings page (time zone, margin, windows...), as
    the dashboard and `pilotage kpi --db` read them: every surface, the same numbers."""
    from pilotage.web.crm.services.importing import stored_company_settings

    return stored_company_settings()


def _run(compute: Callable[[Any], Any]) -> dict[str, Any]:
    from pilotage.engine.backends import SourceError, from_database_url

    try:
        source = from_database_url(crm_database_url(), company_settings())
    except SourceError as error:
        raise ApiError(503, "unavailable", str(error)) from None
    try:
        result = compute(source)
    except (ValueError, KeyError, LookupError) as error:
        # The engines' own errors (KpiError, unknown model or breakdown, ...) are
        # ValueErrors that name the bad parameter.
        message = str(error.args[0]) if error.args else str(error)
        raise ApiError(422, "invalid_parameter", message) from None
    except OverflowError:
        # A date parameter at the calendar's edge (as_of=0001-01-01): its periods or
        # windows fall outside the years 1 to 9999.
        raise ApiError(
            422, "invalid_parameter", "a date parameter is out of range (years 1 to 9999)"
        ) from None
    finally:
        disconnect = getattr(source.backend, "disconnect", None)
        if callable(disconnect):
            disconnect()
    document = result.to_dict() if hasattr(result, "to_dict") else result.to_json()
    return dict(document)


def _as_of(text: str | None, settings: Settings) -> dt.datetime | None:
    """`as_of` as the engines' naive UTC instant; naive input is in the company zone."""
    if text is None:
        return None
    try:
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "invalid_parameter", f"as_of: {text!r} is not ISO-8601") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=settings.zone)
    try:
        return instant.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:
        raise ApiError(422, "invalid_parameter", "as_of is out of range") from None


def kpis_document(
    *,
    grain: str,
    start: dt.date | None,
    end: dt.date | None,
    by: str | None,
    kpi: str | None,
    as_of: str | None,
) -> dict[str, Any]:
    from pilotage.engine.compute import compute_kpis

    names = [n.strip() for n in kpi.split(",") if n.strip()] if kpi else None
    settings = company_settings()
    instant = _as_of(as_of, settings)
    return _run(
        lambda source: compute_kpis(
            source,
            # The engine checks the grain and the breakdown and names the allowed ones.
            grain=cast(Any, grain),
            start=start,
            end=end,
            by=cast(Any, by),
            kpis=names,
            as_of=instant,
        )
    )


def attribution_document(
    *,
    model: str | None,
    by: str,
    grain: str,
    start: dt.date | None,
    end: dt.date | None,
    as_of: str | None,
) -> dict[str, Any]:
    from pilotage.attribution import attribute

    settings = company_settings()
    instant = _as_of(as_of, settings)
    return _run(
        lambda source: attribute(
            source,
            model=model or settings.attribution_model,
            by=cast(Any, by),
            grain=cast(Any, grain),
            start=start,
            end=end,
            as_of=instant,
        )
    )


def levers_document(
    *, start: dt.date | None, end: dt.date | None, as_of: str | None, model: str | None
) -> dict[str, Any]:
    from pilotage.attribution import levers

    settings = company_settings()
    instant = _as_of(as_of, settings)
    if start is not None and end is not None and end < start:
        raise ApiError(422, "invalid_parameter", f"to {end} is before from {start}")
    return _run(lambda source: levers(source, start, end, as_of=instant, model=model))


def contact_score_document(*, contact_id: str) -> dict[str, Any]:
    """The latest stored score of one contact (`pilotage.web.scoring`); the caller has
    checked that the user may see the contact."""
    from pilotage.web.scoring.selectors import contact_score

    document = contact_score(contact_id=contact_id)
    if document is None:
        raise ApiError(
            404,
            "not_scored",
            f"contact {contact_id!r} is not scored yet: scores are computed after an import "
            "or a change, and by `pilotage score`",
        )
    return document
