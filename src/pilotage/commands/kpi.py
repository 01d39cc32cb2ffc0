"""`pilotage kpi`: the KPI table (kpis.md), its catalogue (`--list`) and SQL (`--show-sql`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from contextlib import AbstractContextManager, ExitStack, nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pilotage.commands.common import (
    add_config_option,
    add_format_option,
    add_source_options,
    print_json,
    settings_for,
    stdout_is_terminal,
)
from pilotage.contract.csv_safety import SafeWriter
from pilotage.contract.settings import Settings
from pilotage.engine.backends import Source
from pilotage.engine.catalogue import CATALOGUE, SECTIONS, Kpi, Language, get_kpi
from pilotage.engine.compute import KpiResult, KpiRow, compute_kpis, kpi_sql, select_kpis
from pilotage.engine.context import DIMENSIONS, KpiError
from pilotage.engine.periods import GRAINS

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_BAD_USAGE = 2
DIALECTS = ("duckdb", "sqlite", "postgres", "spark")
ENGINES = ("duckdb", "sqlite", "postgres", "spark")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "kpi",
        help="KPI table: funnel, acquisition, attrition, value, sales team",
        description="Compute the KPIs of kpis.md per period (and breakdown).",
    )
    add_source_options(parser)
    parser.add_argument("--grain", choices=GRAINS, default="quarter", help="period length")
    parser.add_argument("--from", dest="start", metavar="DATE", help="first day (YYYY-MM-DD)")
    parser.add_argument("--to", dest="end", metavar="DATE", help="last day (YYYY-MM-DD)")
    parser.add_argument("--by", choices=DIMENSIONS, help="breakdown")
    parser.add_argument("--kpi", metavar="A,B", help="KPIs to compute (default: all)")
    parser.add_argument(
        "--as-of", dest="as_of", metavar="TS", help="read the data as of (default: latest)"
    )
    parser.add_argument("--list", action="store_true", help="print the KPI catalogue")
    parser.add_argument("--show-sql", metavar="KPI", help="print the SQL of one KPI")
    parser.add_argument("--dialect", choices=DIALECTS, default="duckdb", help="for --show-sql")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        help="where the KPIs are computed (default: where the data is: duckdb for --data, "
        "the database for --db; spark copies the tables into a local Spark session)",
    )
    parser.add_argument("--lang", choices=("fr", "en"), help="table language (default: locale)")
    add_config_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=run)


def language(args: argparse.Namespace) -> Language:
    if args.lang == "fr":
        return "fr"
    if args.lang == "en":
        return "en"
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


def run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        return _run(args, stack)


def _run(args: argparse.Namespace, stack: ExitStack) -> int:
    lang = language(args)
    if args.list:
        print_catalogue(args.format, lang)
        return EXIT_OK
    from pilotage.engine.backends import SourceError, open_source

    if args.data is not None:
        opening = _working(
            lang,
            f"Reading and checking {args.data} (every row, against the contract)…",
            f"Lecture et vérification de {args.data} (chaque ligne, selon le contrat)…",
        )
    else:
        opening = _working(lang, "Opening the database…", "Ouverture de la base…")
    try:
        settings = settings_for(args, args.data)
        with opening:
            source = open_source(args.data, args.db, settings)
    except SourceError as error:
        print(f"pilotage kpi: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as error:  # a folder that breaks the contract lists its problems
        print(str(error), file=sys.stderr)
        return EXIT_BAD_INPUT
    engine = args.engine or source.engine
    if engine not in (source.engine, "spark"):
        print(
            f"pilotage kpi: --engine {engine}: this source is computed by {source.engine} "
            "(or copied into spark with --engine spark)",
            file=sys.stderr,
        )
        return EXIT_BAD_USAGE
    names = [name.strip() for name in args.kpi.split(",") if name.strip()] if args.kpi else None
    if engine == "spark" and not args.show_sql:
        try:
            select_kpis(names, args.by)  # a usage error is told before Spark starts
        except KpiError as error:
            print(f"pilotage kpi: {error}", file=sys.stderr)
            return EXIT_BAD_USAGE
        try:
            with _working(lang, "Starting Spark…", "Démarrage de Spark…"):
                source = on_spark(source, stack)
        except ImportError:
            print(
                "pilotage kpi: --engine spark needs pyspark: pip install 'pilotage[spark]'",
                file=sys.stderr,
            )
            return EXIT_BAD_USAGE
        except Exception as error:  # no Java, a JVM that does not start: Spark says why
            print(f"pilotage kpi: cannot start Spark: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        if args.show_sql:
            sql = kpi_sql(
                source,
                args.show_sql,
                args.dialect,
                grain=args.grain,
                start=args.start,
                end=args.end,
                by=args.by,
                as_of=args.as_of,
            )
            print(sql)
            return EXIT_OK
        with _working(lang, "Computing the KPIs…", "Calcul des indicateurs…"):
            result = compute_kpis(
                source,
                grain=args.grain,
                start=args.start,
                end=args.end,
                by=args.by,
                kpis=names,
                as_of=args.as_of,
            )
    except KpiError as error:
        print(f"pilotage kpi: {error}", file=sys.stderr)
        return EXIT_BAD_USAGE
    except ValueError as error:  # a bad date or as_of
        print(f"pilotage kpi: {error}", file=sys.stderr)
        return EXIT_BAD_USAGE
    for message in result.skipped:
        print(f"pilotage kpi: left out {message}", file=sys.stderr)
    for message in result.notes:
        print(f"pilotage kpi: note: {message}", file=sys.stderr)
    if args.format == "json":
        print_json(result.to_dict())
    elif args.format == "csv":
        write_csv(result)
    else:
        print_table(result, lang)
    return EXIT_OK


def _working(lang: Language, english: str, french: str) -> AbstractContextManager[Any]:
    """A spinner on the terminal saying what runs (reading a million-contact folder takes
    about 20 s). interfaces.md: none when stdout is not a terminal (`--format json >
    file`, a pipe, tests), nor when stderr, where it draws, is not one."""
    if not (stdout_is_terminal() and sys.stderr.isatty()):
        return nullcontext()
    return Console(stderr=True).status(french if lang == "fr" else english)


def on_spark(source: Source, stack: ExitStack) -> Source:
    """`source`'s tables in a local Spark session (through Parquet files in a temporary
    directory removed when the command ends)."""
    from pilotage.engine.backends import spark_session, to_spark

    session = spark_session(master="local[*]")
    directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pilotage-spark-")))
    return to_spark(source, session, directory)


def write_csv(result: KpiResult) -> None:
    writer = SafeWriter(sys.stdout, lineterminator="\n")
    columns = [
        "kpi",
        "period",
        "period_start",
        "period_end",
        "by",
        "value",
        "numerator",
        "denominator",
        "complete",
    ]
    writer.writerow(columns)
    for row in result.rows:
        by = json.dumps(row.by, ensure_ascii=False, sort_keys=False) if row.by else ""
        writer.writerow(
            [
                row.kpi,
                row.period,
                row.period_start,
                row.period_end,
                by,
                _plain(row.value),
                _plain(row.numerator),
                _plain(row.denominator),
                "true" if row.complete else "false",
            ]
        )


def _plain(value: float | None) -> str:
    if value is None:
        return ""
    return repr(int(value)) if float(value).is_integer() else repr(value)


def format_value(value: float | None, kpi: Kpi, settings: Settings, lang: Language) -> str:
    """A value as people read it: money with the currency, rates as percentages."""
    if value is None:
        return "—"
    if kpi.unit == "rate":
        text = f"{value * 100:,.1f}"
        suffix = " %" if lang == "fr" else "%"
    elif kpi.unit == "money":
        text = f"{value:,.2f}"
        suffix = f" {settings.currency}"
    elif kpi.unit == "count":
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        suffix = ""
    elif kpi.unit == "days":
        text = f"{value:,.1f}"
        suffix = " j" if lang == "fr" else " d"
    elif kpi.unit == "months":
        text = f"{value:,.1f}"
        suffix = " mois" if lang == "fr" else " mo"
    else:
        text = f"{value:,.2f}"
        suffix = ""
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text + suffix


def _by_text(row: KpiRow) -> str:
    if not row.by:
        return ""
    parts = []
    for key, value in row.by.items():
        shown = "∅" if value is None else value
        parts.append(f"{shown}" if key in ("from", "to") else f"{key}={shown}")
    if "from" in row.by and "to" in row.by:
        step = f"{row.by['from']} → {row.by['to']}"
        others = [p for key, p in zip(row.by, parts, strict=True) if key not in ("from", "to")]
        return " ".join([*others, step])
    return " ".join(parts)


# The header of the breakdown column, by (a breakdown value shown, a funnel step shown).
_BY_HEADERS = {
    (True, False): ("Breakdown", "Ventilation"),
    (False, True): ("Step", "Étape"),
    (True, True): ("Breakdown / step", "Ventilation / étape"),
}


def _by_header(result: KpiResult, lang: Language) -> str:
    keys = {key for row in result.rows for key in (row.by or {})}
    steps = {"from", "to"}
    english, french = _BY_HEADERS[(bool(keys - steps), bool(keys & steps))]
    return french if lang == "fr" else english


def print_table(result: KpiResult, lang: Language) -> None:
    """One line per KPI (and breakdown value), one column per period; an incomplete
    period's value is marked with *."""
    # Off a terminal (a pipe, a file), rich would wrap at 80 columns: give it room.
    console = Console() if sys.stdout.isatty() else Console(width=240)
    periods: list[str] = []
    for row in result.rows:
        if row.period not in periods:
            periods.append(row.period)
    title = "Indicateurs" if lang == "fr" else "KPIs"
    as_of = "au" if lang == "fr" else "as of"
    lines: dict[tuple[str, str], dict[str, str]] = {}
    for row in result.rows:
        kpi = get_kpi(row.kpi)
        shown = format_value(row.value, kpi, result.settings, lang)
        if not row.complete:
            shown += "*"
        lines.setdefault((row.kpi, _by_text(row)), {})[row.period] = shown
    # The breakdown value or funnel step, in a column of its own only when a line has one.
    with_by = any(by for _, by in lines)
    table = Table(title=f"{title} ({as_of} {result.as_of.isoformat(timespec='minutes')})")
    table.add_column("KPI", style="bold", no_wrap=True)
    if with_by:
        table.add_column(_by_header(result, lang), no_wrap=True)
    for period in periods:
        table.add_column(period, justify="right", no_wrap=True)
    for (name, by), cells in lines.items():
        label = get_kpi(name).label(lang)
        table.add_row(label, *([by] if with_by else []), *[cells.get(p, "") for p in periods])
    console.print(table)
    note = (
        "* période ou fenêtre pas encore écoulée (valeur provisoire)"
        if lang == "fr"
        else "* period or window not yet elapsed (provisional value)"
    )
    console.print(note)


def print_catalogue(output_format: str, lang: Language) -> None:
    if output_format == "json":
        print_json(
            [
                {
                    "name": kpi.name,
                    "section": kpi.section,
                    "label": {"en": kpi.label_en, "fr": kpi.label_fr},
                    "definition": {"en": kpi.definition_en, "fr": kpi.definition_fr},
                    "formula": kpi.formula,
                    "unit": kpi.unit,
                    "higher_is_better": kpi.higher_is_better,
                    "breakdowns": list(kpi.breakdowns),
                    "window": kpi.window,
                }
                for kpi in CATALOGUE
            ]
        )
        return
    if output_format == "csv":
        writer = SafeWriter(sys.stdout, lineterminator="\n")
        writer.writerow(["name", "section", "label", "unit", "breakdowns", "window", "formula"])
        for kpi in CATALOGUE:
            writer.writerow(
                [
                    kpi.name,
                    kpi.section,
                    kpi.label(lang),
                    kpi.unit,
                    " ".join(kpi.breakdowns),
                    kpi.window or "",
                    kpi.formula,
                ]
            )
        return
    table = Table(title="Catalogue des indicateurs" if lang == "fr" else "KPI catalogue")
    for header in ("KPI", "label", "unit", "by", "window", "formula"):
        table.add_column(header)
    section = None
    for kpi in CATALOGUE:
        if kpi.section != section:
            section = kpi.section
            english, french = SECTIONS[section]
            table.add_row(f"[bold]{french if lang == 'fr' else english}[/bold]")
        table.add_row(
            kpi.name,
            kpi.label(lang),
            kpi.unit,
            ", ".join(kpi.breakdowns),
            kpi.window or "",
            kpi.formula,
        )
    (Console() if sys.stdout.isatty() else Console(width=240)).print(table)
