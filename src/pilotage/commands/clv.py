"""`pilotage clv`: fit the customer-base models and predict per customer (interfaces.md)."""

from __future__ import annotations

import argparse
import math
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from pilotage.commands.common import (
    add_config_option,
    add_format_option,
    add_source_options,
    print_json,
    settings_for,
)
from pilotage.contract.csv_safety import safe_csv_frame

if TYPE_CHECKING:
    import pandas as pd

    from pilotage.clv.analysis import ClvResult
    from pilotage.engine.backends import Source

EXIT_OK = 0
EXIT_BAD_INPUT = 1
TOP_CUSTOMERS = 10


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive number")
    return number


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "clv",
        help="fit the customer-base models (BG/NBD, Pareto/NBD, Gamma-Gamma) and predict CLV",
        description="Fits the customer-base models on the customers' paid orders up to the "
        "calibration end date (inclusive) and predicts, for each customer, P(alive), the "
        "expected purchases over --horizon units, the expected value per purchase and the "
        "CLV over the clv_horizon_months setting.",
    )
    add_source_options(parser)
    parser.add_argument(
        "--calibration-end", type=_date, required=True, metavar="DATE", help="YYYY-MM-DD"
    )
    parser.add_argument("--unit", choices=("week", "day"), default="week")
    parser.add_argument(
        "--model", choices=("bgnbd", "pareto_nbd", "gamma_gamma", "all"), default="all"
    )
    parser.add_argument(
        "--horizon",
        type=_positive,
        metavar="UNITS",
        help="units ahead for expected purchases (default: 52 weeks or 365 days)",
    )
    parser.add_argument(
        "--holdout-end",
        type=_date,
        metavar="DATE",
        help="check the model: predicted vs actual repeat purchases after the calibration end",
    )
    parser.add_argument(
        "--report-html",
        type=Path,
        metavar="FILE",
        help="with --holdout-end: write the check as a standalone HTML page",
    )
    parser.add_argument(
        "--exclude-zero-amount",
        dest="include_zero_amount",
        action="store_false",
        help="count only paid orders of amount > 0 (kpis.md's paid order) as purchases; by "
        "default a paid order of amount 0 is a purchase, as in the published CDNOW summaries",
    )
    add_format_option(parser)
    add_config_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pilotage.engine.backends import open_source

    try:
        settings = settings_for(args, args.data)
        source = open_source(args.data, args.db, settings)
    except ValueError as error:
        _print_problems(error, sys.stderr)
        return EXIT_BAD_INPUT
    return run_on_source(args, source)


def run_on_source(
    args: argparse.Namespace, source: Source, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """The command on an already opened source (the testable part)."""
    from pilotage.clv._fitting import ConvergenceError
    from pilotage.clv.analysis import clv_analysis
    from pilotage.clv.report import calibration_holdout_html

    out = out or sys.stdout
    err = err or sys.stderr
    if args.holdout_end is not None and args.holdout_end <= args.calibration_end:
        print(
            f"pilotage clv: --holdout-end {args.holdout_end} must be after "
            f"--calibration-end {args.calibration_end}",
            file=err,
        )
        return EXIT_BAD_INPUT
    if args.report_html is not None and args.holdout_end is None:
        print("pilotage clv: --report-html needs --holdout-end", file=err)
        return EXIT_BAD_INPUT
    try:
        result = clv_analysis(
            source,
            calibration_end=args.calibration_end,
            unit=args.unit,
            model=args.model,
            horizon=args.horizon,
            holdout_end=args.holdout_end,
            include_zero_amount=args.include_zero_amount,
        )
    except (ValueError, ConvergenceError) as error:
        _print_problems(error, err)
        return EXIT_BAD_INPUT
    if args.report_html is not None and result.holdout_report is not None:
        title = (
            f"{result.transaction_model}: calibration to {result.calibration_end}, "
            f"holdout to {args.holdout_end} ({result.unit}s)"
        )
        args.report_html.write_text(
            calibration_holdout_html(result.holdout_report, title=title), encoding="utf-8"
        )
    if args.format == "json":
        if out is sys.stdout:
            print_json(result.to_json())
        else:
            import json

            json.dump(result.to_json(), out, ensure_ascii=False, indent=2)
            out.write("\n")
    elif args.format == "csv":
        safe_csv_frame(result.customers).to_csv(out, index=False, lineterminator="\n")
    else:
        out.write(format_table(result))
    return EXIT_OK


def _print_problems(error: Exception, err: TextIO) -> None:
    problems = getattr(error, "problems", None)
    if problems:
        for problem in problems:
            print(problem, file=err)
    else:
        print(f"pilotage clv: {error}", file=err)


def readable(value: float) -> str:
    """Three significant digits, and at least two decimals (15.44, 6.25, 0.243, 4.41)."""
    if value is None or not math.isfinite(value):
        return "-"
    if value == 0:
        return "0.00"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(2, 2 - magnitude)
    return f"{value:.{decimals}f}"


_MODEL_TITLES = {
    "bgnbd": "BG/NBD",
    "pareto_nbd": "Pareto/NBD",
    "gamma_gamma": "Gamma-Gamma",
}


def format_table(result: ClvResult) -> str:
    lines = [
        f"Customer-base models, calibration period ending {result.calibration_end} "
        f"(inclusive), unit: {result.unit}",
        "",
    ]
    for name, fitted in result.models.items():
        # The precision of the published results: three decimals for the purchase models'
        # shape and scale parameters, cents for Gamma-Gamma's (its scale is money).
        decimals = 2 if name == "gamma_gamma" else 3
        params = "  ".join(
            f"{key} = {value:.{decimals}f} (± {readable(fitted.standard_errors[key])})"
            for key, value in fitted.params.items()
        )
        lines.append(f"{_MODEL_TITLES[name]:<12} {params}")
        lines.append(
            f"{'':<12} log-likelihood {fitted.log_likelihood:.1f}, {fitted.customers} customers"
        )
    lines.append("")
    if result.holdout_report is not None:
        lines.append(
            f"Check ({_MODEL_TITLES[result.transaction_model or 'bgnbd']}): mean repeat "
            "purchases in the holdout period by calibration frequency"
        )
        lines.extend(
            _frame_lines(result.holdout_report, ("frequency", "customers", "actual", "predicted"))
        )
        lines.append("")
    customers = result.customers
    if customers["clv"].notna().any():
        top = customers.sort_values("clv", ascending=False, kind="stable").head(TOP_CUSTOMERS)
        lines.append(f"Top {len(top)} customers by CLV (of {len(customers)})")
    else:
        top = customers.head(TOP_CUSTOMERS)
        lines.append(f"First {len(top)} customers (of {len(customers)})")
    lines.extend(_frame_lines(top, tuple(top.columns)))
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, float | np.floating):
        return readable(float(value))
    return str(value)


def _frame_lines(frame: pd.DataFrame, columns: tuple[str, ...]) -> list[str]:
    cells = [list(columns)]
    for row in frame[list(columns)].itertuples(index=False, name=None):
        cells.append([_cell(value) for value in row])
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(columns))]
    return [
        "  ".join(
            str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
