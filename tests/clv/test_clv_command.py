from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from clv_data import cdnow_file

from pilotage.clv.datasets import write_cdnow_contract_folder
from pilotage.commands import clv as clv_command
from pilotage.engine.backends import Source


def _parse(*arguments: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pilotage")
    clv_command.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["clv", *arguments])


def _run(source: Source, *arguments: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = clv_command.run_on_source(_parse(*arguments), source, out, err)
    return code, out.getvalue(), err.getvalue()


def test_json_has_the_interfaces_shape(cdnow_sample_source: Source) -> None:
    code, out, _ = _run(
        cdnow_sample_source,
        "--calibration-end=1997-09-30",
        "--format=json",
    )
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"unit", "calibration_end", "models", "customers"}
    assert document["unit"] == "week"
    assert document["calibration_end"] == "1997-09-30"
    models = document["models"]
    assert set(models["bgnbd"]) == {"params", "log_likelihood"}
    assert set(models["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert set(models["pareto_nbd"]["params"]) == {"r", "alpha", "s", "beta"}
    assert set(models["gamma_gamma"]) == {"params"}
    assert round(models["bgnbd"]["params"]["r"], 3) == 0.243
    assert round(models["gamma_gamma"]["params"]["gamma"], 2) == 15.44
    assert len(document["customers"]) == 2357
    first = document["customers"][0]
    assert list(first) == [
        "contact_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "p_alive",
        "expected_purchases",
        "expected_value",
        "clv",
    ]
    # Customer 0001: x = 2, t_x = 30.43, T = 38.86 (published summary); BG/NBD gives
    # P(alive) = 0.7266 (lifetimes 0.11.3 agrees to 4 digits on the same summary).
    assert first["contact_id"] == "0001"
    assert first["frequency"] == 2
    assert first["p_alive"] == pytest.approx(0.7266, abs=1e-4)
    assert first["clv"] > 0


def test_table_prints_the_published_values(cdnow_sample_source: Source) -> None:
    code, out, _ = _run(
        cdnow_sample_source,
        "--calibration-end",
        "1997-09-30",
        "--unit",
        "week",
        "--model",
        "all",
        "--holdout-end",
        "1998-06-30",
    )
    assert code == 0
    # The published results, to their published precision (scoring.md).
    for printed in ("r = 0.243", "alpha = 4.414", "a = 0.793", "b = 2.426"):
        assert printed in out
    assert "log-likelihood -9582.4" in out
    for printed in ("r = 0.553", "alpha = 10.578", "s = 0.606", "beta = 11.669"):
        assert printed in out
    assert "log-likelihood -9595.0" in out
    assert "p = 6.25" in out
    assert "q = 3.74" in out
    assert "gamma = 15.44" in out
    assert "7+" in out
    assert "Top 10 customers by CLV" in out


def test_single_model_leaves_other_fields_null(cdnow_sample_source: Source, tmp_path: Path) -> None:
    code, out, _ = _run(
        cdnow_sample_source,
        "--calibration-end=1997-09-30",
        "--model=gamma_gamma",
        "--format=csv",
        "--exclude-zero-amount",
    )
    assert code == 0
    frame = pd.read_csv(io.StringIO(out), dtype={"contact_id": str})
    assert len(frame) == 2349  # the 8 customers with only a $0.00 purchase are left out
    assert frame["p_alive"].isna().all()
    assert frame["expected_value"].notna().all()


def test_bad_input_is_exit_one(cdnow_sample_source: Source, tmp_path: Path) -> None:
    code, _, err = _run(
        cdnow_sample_source, "--calibration-end=1997-09-30", "--holdout-end=1997-01-01"
    )
    assert code == 1
    assert "must be after" in err
    code, _, err = _run(cdnow_sample_source, "--calibration-end=1990-01-01")
    assert code == 1
    assert "no customer" in err
    code, _, err = _run(
        cdnow_sample_source, "--calibration-end=1997-09-30", f"--report-html={tmp_path / 'x.html'}"
    )
    assert code == 1
    assert "--holdout-end" in err


def test_report_html_written(cdnow_sample_source: Source, tmp_path: Path) -> None:
    target = tmp_path / "check.html"
    code, _, _ = _run(
        cdnow_sample_source,
        "--calibration-end=1997-09-30",
        "--model=bgnbd",
        "--holdout-end=1998-06-30",
        f"--report-html={target}",
        "--format=json",
    )
    assert code == 0
    assert "<svg" in target.read_text(encoding="utf-8")


def test_cdnow_contract_folder(tmp_path: Path) -> None:
    write_cdnow_contract_folder(cdnow_file("CDNOW_sample.txt"), tmp_path, sample=True)
    contacts = pd.read_csv(tmp_path / "contacts.csv", dtype=str)
    orders = pd.read_csv(tmp_path / "orders.csv", dtype=str)
    assert list(contacts.columns) == ["contact_id", "created_at", "channel"]
    assert list(orders.columns) == ["order_id", "contact_id", "ordered_at", "amount"]
    assert len(contacts) == 2357
    assert len(orders) == 6919
    assert orders["order_id"].is_unique
    assert (orders["amount"] == "0.00").sum() == 8  # kept as they are
    assert contacts.loc[contacts["contact_id"] == "0001", "created_at"].item() == "1997-01-01"
    assert orders["amount"].str.fullmatch(r"\d+\.\d\d").all()


def test_command_on_a_contract_folder(tmp_path: Path) -> None:
    """End to end through `--data` (the folder reader validates it first)."""
    pytest.importorskip("pilotage.contract.reader")
    write_cdnow_contract_folder(cdnow_file("CDNOW_sample.txt"), tmp_path, sample=True)
    args = _parse(
        "--data",
        str(tmp_path),
        "--calibration-end=1997-09-30",
        "--model=bgnbd",
        "--format=json",
    )
    out = io.StringIO()
    from pilotage.engine.backends import open_source

    source = open_source(args.data, None, clv_command.settings_for(args, args.data))
    assert clv_command.run_on_source(args, source, out, io.StringIO()) == 0
    assert round(json.loads(out.getvalue())["models"]["bgnbd"]["params"]["alpha"], 3) == 4.414
