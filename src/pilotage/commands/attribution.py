"""`pilotage attribution`: attributed conversions, revenue, spend, CAC, ROAS and ROI per
campaign or channel (interfaces.md; attribution.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime

from pilotage.attribution import MODELS, attribute
from pilotage.attribution.report import AttributionResult
from pilotage.commands.common import (
    add_config_option,
    add_format_option,
    add_source_options,
    print_json,
    settings_for,
)
from pilotage.contract.csv_safety import SafeDictWriter
from pilotage.contract.settings import Settings
from pilotage.engine.backends import SourceError, open_source
from pilotage.engine.periods import GRAINS

EXIT_OK = 0
EXIT_BAD_INPUT = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "attribution",
        help="attribution, CAC, ROAS and ROI per campaign or channel",
        description="Share each conversion among the campaigns that touched the customer "
        "(attribution.md) and report, per period, the attributed conversions and revenue, "
        "the spend, CAC, ROAS and ROI of each campaign or channel.",
    )
    parser.add_argument(
        "--model",
        choices=(*MODELS, "all"),
        help="attribution model, or all (default: setting attribution_model)",
    )
    parser.add_argument("--by", choices=("campaign", "channel"), default="campaign")
    parser.add_argument("--grain", choices=GRAINS, default="quarter")
    add_period_options(parser)
    add_source_options(parser)
    add_config_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=run)


def add_period_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="start", type=parse_date, metavar="DATE", help="first day (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--to", dest="end", type=parse_date, metavar="DATE", help="last day (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--as-of",
        dest="as_of",
        metavar="TS",
        help="read the data as at this instant (ISO-8601; naive means the company time "
        "zone); default: the latest timestamp in the data",
    )


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-03-31") from None


def as_of_utc(text: str | None, settings: Settings) -> datetime | None:
    """`--as-of` as the engines' naive UTC instant; naive input is in the company zone."""
    if text is None:
        return None
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--as-of: {text!r} is not an ISO-8601 timestamp") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=settings.zone)
    return instant.astimezone(UTC).replace(tzinfo=None)


def run(args: argparse.Namespace) -> int:
    settings = settings_for(args, args.data)
    try:
        source = open_source(args.data, args.db, settings)
        result = attribute(
            source,
            model=args.model or settings.attribution_model,
            by=args.by,
            grain=args.grain,
            start=args.start,
            end=args.end,
            as_of=as_of_utc(args.as_of, settings),
        )
    except (SourceError, ValueError) as error:
        print(f"pilotage: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.format == "json":
        print_json(result.to_json())
    elif args.format == "csv":
        write_csv(result)
    else:
        print_table(result)
    return EXIT_OK


def write_csv(result: AttributionResult) -> None:
    document = result.to_json()
    columns = [
        "model",
        "period",
        result.key_column,
        "conversions",
        "revenue",
        "spend",
        "cac",
        "roas",
        "roi",
        "complete",
    ]
    writer = SafeDictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in document["rows"]:
        writer.writerow({k: "" if row[k] is None else row[k] for k in columns})


def print_table(result: AttributionResult) -> None:
    settings = result.settings
    as_of = "-" if result.as_of is None else f"{result.as_of:%Y-%m-%d %H:%M} UTC"
    print(
        f"Attribution by {result.by}, model {result.model}, grain {result.grain}, as of {as_of}"
        f" (lookback {settings.attribution_lookback_days} d, revenue window "
        f"{settings.revenue_window_days} d, gross margin {settings.gross_margin:g} "
        "where an order has none)"
    )
    if not result.rows:
        print("No conversion and no spend in the period.")
        return
    headers = [
        "model",
        "period",
        result.key_column,
        "conversions",
        f"revenue ({settings.currency})",
        "spend",
        "CAC",
        "ROAS",
        "ROI",
        "complete",
    ]
    body = [
        [
            row.model,
            row.period,
            row.key,
            f"{row.conversions:,.2f}",
            money(row.revenue),
            money(row.spend),
            money(row.cac),
            "-" if row.roas is None else f"{row.roas:.2f}",
            percent(row.roi),
            "yes" if row.complete else "no",
        ]
        for row in result.rows
    ]
    print(render_table(headers, body, right_aligned=range(3, 9)))


def money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right_aligned: Sequence[int] = ()
) -> str:
    """A plain aligned text table (readable in a terminal, a pipe or a log)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if i in right_aligned else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])
