"""Options and helpers shared by the subcommands (interfaces.md, "Command line")."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pilotage.contract.settings import Settings, load_settings

FORMATS = ("table", "json", "csv")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="settings file (TOML); default: pilotage.toml in the data folder, else defaults",
    )


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (readable, the default), json (the machine interface) or csv",
    )


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """`--data DIR` (a contract folder) or `--db URL` (the CRM database)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--data", type=Path, metavar="DIR", help="a contract folder (CSV/Parquet)")
    group.add_argument(
        "--db",
        metavar="URL",
        help="the CRM database (sqlite:///path.db, postgresql://...); "
        "default: DATABASE_URL, else the embedded database",
    )


def settings_for(args: argparse.Namespace, data_dir: Path | None = None) -> Settings:
    """The settings a command computes with: `--config FILE`, else the data folder's
    `pilotage.toml`, else, for the CRM database, the settings saved in it (its settings
    page, or the first import)."""
    config = getattr(args, "config", None)
    if config is not None or data_dir is not None:
        return load_settings(config, data_dir)
    from pilotage.engine.backends import SourceError, from_database_url
    from pilotage.home import database_url

    try:
        source = from_database_url(getattr(args, "db", None) or database_url())
    except SourceError:
        return Settings()  # opening the source again will say what is wrong
    disconnect = getattr(source.backend, "disconnect", None)
    if disconnect is not None:
        disconnect()
    return source.settings


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
