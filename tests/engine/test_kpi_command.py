"""`pilotage kpi` end to end, and the same numbers on every engine for a generated company."""

from __future__ import annotations

import io
import json
import math
import os
import pty
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from crm_database import build_crm_database

from pilotage.cli import main
from pilotage.contract.settings import load_settings
from pilotage.engine.backends import from_frames
from pilotage.engine.compute import compute_kpis

generator = pytest.importorskip("pilotage.demo.generator")


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("company")
    generator.generate_company(folder, 300, 11)
    return folder


def company_frames(folder: Path) -> dict[str, pd.DataFrame]:
    return {
        path.stem: pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)
        for path in folder.glob("*.csv")
    }


def test_json_output(company, capsys):
    code = main(["kpi", "--data", str(company), "--kpi", "revenue,cac", "--format", "json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert {row["kpi"] for row in document["rows"]} == {"revenue", "cac"}
    assert document["settings"]["timezone"] == "Europe/Paris"


def test_table_in_french_and_csv(company, capsys, monkeypatch):
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert main(["kpi", "--data", str(company), "--kpi", "revenue,win_rate"]) == 0
    out = capsys.readouterr().out
    assert "Chiffre d'affaires" in out
    assert "EUR" in out
    assert "%" in out
    # Without a breakdown, no column for one (it would stay empty).
    assert "Ventilation" not in out
    assert "┃  ┃" not in out
    assert main(["kpi", "--data", str(company), "--kpi", "revenue", "--by", "channel"]) == 0
    assert "Ventilation" in capsys.readouterr().out
    assert main(["kpi", "--data", str(company), "--kpi", "stage_conversion"]) == 0
    assert "Étape" in capsys.readouterr().out
    assert main(["kpi", "--data", str(company), "--kpi", "orders", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "kpi,period,period_start,period_end,by,value,numerator,denominator,complete"


def test_list_and_bad_usage(company, capsys):
    assert main(["kpi", "--list", "--format", "json"]) == 0
    catalogue = json.loads(capsys.readouterr().out)
    assert len(catalogue) == 39
    assert main(["kpi", "--data", str(company), "--kpi", "nope"]) == 2
    assert "unknown KPI 'nope'" in capsys.readouterr().err
    # Dates at the calendar's edge: a message, not a traceback.
    for dates in (["--as-of", "0001-01-01"], ["--from", "0001-01-01", "--to", "0001-01-02"]):
        assert main(["kpi", "--data", str(company), "--grain", "day", *dates]) == 2
        assert "9999" in capsys.readouterr().err


def test_a_reader_that_stops_early_is_no_error(monkeypatch, capsys):
    # `pilotage kpi --list | head -1`: once head has its line, writing fails with
    # BrokenPipeError. No traceback: exit 141, as a command stopped by the closed pipe.
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["kpi", "--list", "--format", "csv"]) == 141
    assert "Traceback" not in capsys.readouterr().err


def test_a_mistyped_database_path_is_refused_and_left_alone(tmp_path, capsys):
    missing = tmp_path / "crm-typo.db"
    assert main(["kpi", "--db", f"sqlite:///{missing}", "--kpi", "revenue"]) == 1
    error = capsys.readouterr().err
    assert f"no database file at {missing}" in error
    assert "pilotage import DIR --db" in error
    # SQLite creates the file it is asked to open: nothing is left behind.
    assert not missing.exists()


@pytest.mark.parametrize("name", ["predicted_clv", "expected_wins"])
def test_no_sql_for_a_kpi_computed_in_python(company, capsys, name):
    assert main(["kpi", "--data", str(company), "--show-sql", name]) == 2
    error = capsys.readouterr().err
    assert f"{name} has no SQL that runs on its own" in error
    assert "computed in Python" in error


def test_show_sql_runs_as_printed_on_the_crm_database(company, tmp_path, capsys):
    settings = load_settings(None, company)
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    build_crm_database(company_frames(company), settings, url)
    assert main(["kpi", "--db", url, "--show-sql", "revenue", "--dialect", "sqlite"]) == 0
    sql = capsys.readouterr().out
    with sqlite3.connect(tmp_path / "crm.db") as connection:
        printed = dict(connection.execute(f"SELECT period, value FROM ({sql})").fetchall())
    assert main(["kpi", "--db", url, "--kpi", "revenue", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    computed = {row["period"]: row["value"] for row in document["rows"] if row["value"]}
    assert printed == pytest.approx(computed)
    for dialect in ("duckdb", "postgres", "spark"):
        assert main(["kpi", "--db", url, "--show-sql", "cac", "--dialect", dialect]) == 0
        assert "SELECT" in capsys.readouterr().out


@pytest.mark.parametrize("by", [None, "channel", "owner"])
def test_every_kpi_is_the_same_on_every_engine(company, source, engine, by):
    if engine == "duckdb":
        pytest.skip("the reference")
    settings = load_settings(None, company)
    frames = company_frames(company)
    reference = compute_kpis(from_frames(frames, settings), grain="quarter", by=by)
    other = compute_kpis(source(frames, settings), grain="quarter", by=by)
    assert other.as_of == reference.as_of
    expected = {(r.kpi, r.period, json.dumps(r.by)): r for r in reference.rows}
    found = {(r.kpi, r.period, json.dumps(r.by)): r for r in other.rows}
    assert found.keys() == expected.keys()
    for key, row in expected.items():
        mine = found[key]
        assert mine.complete == row.complete, key
        for name in ("value", "numerator", "denominator"):
            a, b = getattr(row, name), getattr(mine, name)
            if a is None or b is None:
                assert a is None, (key, name, a, b)
                assert b is None, (key, name, a, b)
            else:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6), (key, name, a, b)


def _on_a_terminal(company, home, *, stdout_too: bool) -> tuple[int, str, bytes]:
    """`pilotage kpi` with stderr (and stdout, with `stdout_too`) on a pseudo-terminal:
    its exit code, what the terminal showed, and what a piped stdout received."""
    master, terminal = pty.openpty()
    seen: list[bytes] = []

    def drain() -> None:  # the terminal's buffer must not fill up and stall the command
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the command has ended: the terminal is gone
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    # Wide enough for the folder's path on one line.
    env = {**os.environ, "PILOTAGE_HOME": str(home), "COLUMNS": "400"}
    command = [sys.executable, "-m", "pilotage", "kpi", "--data", str(company), "--kpi", "revenue"]
    done = subprocess.run(
        [*command, "--lang", "en"],
        stdout=terminal if stdout_too else subprocess.PIPE,
        stderr=terminal,
        env=env,
        timeout=600,
    )
    os.close(terminal)
    reader.join(60)
    os.close(master)
    return done.returncode, b"".join(seen).decode(errors="replace"), done.stdout or b""


def test_on_a_terminal_a_spinner_says_what_runs(company, tmp_path):
    """Reading a folder of a million contacts takes about 20 s: on a terminal, stderr
    says what runs meanwhile. interfaces.md: none when stdout is not a terminal (the
    JSON or table goes to a file or a pipe)."""
    code, shown, _ = _on_a_terminal(company, tmp_path, stdout_too=True)
    assert code == 0
    assert f"Reading and checking {company}" in shown
    assert "Computing the KPIs" in shown
    assert "Revenue" in shown
    code, shown, piped = _on_a_terminal(company, tmp_path, stdout_too=False)
    assert code == 0
    assert "Reading and checking" not in shown
    assert "Computing the KPIs" not in shown
    assert b"Revenue" in piped
