"""`pilotage demo` and `pilotage serve`: the web app on a production WSGI server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from pilotage.commands.common import add_config_option
from pilotage.home import data_home

DEMO_CONTACTS = 3000
DEMO_SEED = 7
DEMO_USER = "demo"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="create a demo company and serve the web app",
        description="Create the demo database (in the Pilotage data folder), fill it with a "
        "generated company, and serve the web app. Log in with demo / demo.",
    )
    _add_server_options(demo)
    demo.add_argument("--contacts", type=int, default=DEMO_CONTACTS, help="size of the company")
    demo.add_argument("--no-serve", action="store_true", help="prepare the demo database and stop")
    add_config_option(demo)
    demo.set_defaults(handler=run_demo)
    serve = subparsers.add_parser(
        "serve",
        help="serve the web app",
        description="Serve the web app with waitress, a production WSGI server.",
    )
    _add_server_options(serve)
    serve.add_argument(
        "--db",
        metavar="URL",
        help="the CRM database (default: DATABASE_URL, else the embedded database)",
    )
    serve.set_defaults(handler=run_serve)


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--threads", type=int, default=8, help="worker threads")


def demo_database_url() -> str:
    """The demo has a database of its own, so that the demo account never lands in a
    company's real database."""
    return f"sqlite:///{data_home() / 'demo.db'}"


def run_demo(args: argparse.Namespace) -> int:
    from pilotage.contract.settings import load_settings
    from pilotage.demo.generator import generate_company
    from pilotage.web import setup

    console = Console(stderr=True)
    folder = data_home() / "demo-company"
    if not (folder / "contacts.csv").exists():
        console.print(f"Generating a company of {args.contacts:,} contacts in {folder} ...")
        generate_company(folder, contacts=args.contacts, seed=DEMO_SEED)
    setup(demo_database_url())
    from pilotage.web.accounts.services import demo_user_ensure
    from pilotage.web.crm.services.importing import folder_import

    settings = load_settings(args.config, folder)
    console.print("Loading it into the demo database ...")
    report = folder_import(folder=folder, settings=settings)
    if not report.loaded:
        for problem in report.validation.problems[:20]:
            print(problem, file=sys.stderr)
        console.print("[red]The demo company did not load.[/red]")
        return 1
    _train_conversion_model(console)
    demo_user_ensure(username=DEMO_USER, password=DEMO_USER)
    if args.no_serve:
        console.print(f"Demo database ready: {demo_database_url()}")
        return 0
    return serve(args.host, args.port, args.threads, login_hint=True)


def _train_conversion_model(console: Console) -> None:
    """Learn the conversion probability from the demo's history, so that prospects are
    ranked by it; a company too small to learn from keeps its rule scores."""
    from pilotage.scoring import TrainingRefused, train
    from pilotage.web.scoring.services import (
        conversion_model_store,
        database_source,
        scores_refresh,
    )

    source = database_source()
    try:
        trained = train(source)
    except TrainingRefused as refusal:
        console.print(f"Rule scores only: {refusal}")
        return
    conversion_model_store(trained=trained)
    scores_refresh(everyone=True)
    auc = trained.report["holdout"].get("roc_auc")
    console.print(f"Conversion model trained (holdout ROC AUC {auc}).")


def run_serve(args: argparse.Namespace) -> int:
    from pilotage.web import setup

    setup(args.db)
    return serve(args.host, args.port, args.threads, login_hint=False)


def serve(host: str, port: int, threads: int, *, login_hint: bool) -> int:
    import waitress

    from pilotage.web.wsgi import application

    console = Console()
    shown_host = f"[{host}]" if ":" in host else host
    console.print(f"[bold]Pilotage is running at http://{shown_host}:{port}/[/bold]")
    if login_hint:
        console.print(
            f"Log in with user [bold]{DEMO_USER}[/bold], password [bold]{DEMO_USER}[/bold]."
        )
        console.print(
            f"From the command line: pilotage kpi --db {demo_database_url()} --grain quarter",
            soft_wrap=True,
        )
    console.print("Press Ctrl+C to stop.")
    sys.stdout.flush()
    waitress.serve(application, host=host, port=port, threads=threads, ident="pilotage")
    return 0


__all__ = ["register", "demo_database_url", "Path"]
