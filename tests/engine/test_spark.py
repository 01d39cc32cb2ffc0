"""The KPIs on Apache Spark give the numbers of DuckDB.

How to run: `pytest -m spark` (pyspark >= 3.5 and Java 17; one local Spark session,
`local[2]`, for the whole test session). Without `-m spark` these tests, and the `[spark]`
parametrisation of every KPI test of this folder (tests/engine/conftest.py), are skipped
with the reason shown: the default `pytest` never starts a JVM.

What `-m spark` proves:
- every hand-computed KPI case of the DuckDB / SQLite suites (test_acquisition.py,
  test_attrition.py, test_funnel.py, ...) gives the same values on Spark (their `source`
  fixture has a `spark` parametrisation);
- here: on a generated company, every KPI of the catalogue, for every period, by none,
  channel and owner, equals DuckDB within 1e-9 (value, numerator, denominator, and the
  same `complete` flags and `as_of`), through `pilotage.engine.backends.to_spark` (the
  path of `pilotage kpi --engine spark`) and through the command itself;
- timestamps are not shifted although the test JVM runs in America/New_York
  (conftest.SPARK_TEST_CONFIG): the contract tables read back as the same naive UTC
  instants as on DuckDB.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pilotage.cli import main
from pilotage.contract.reader import read_folder
from pilotage.engine.backends import Source, to_spark
from pilotage.engine.catalogue import CATALOGUE
from pilotage.engine.compute import KpiResult, compute_kpis

pytestmark = pytest.mark.spark

generator = pytest.importorskip("pilotage.demo.generator")


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spark_company")
    generator.generate_company(folder, contacts=300, seed=7)
    return folder


@pytest.fixture(scope="module")
def on_duckdb(company: Path) -> Source:
    return read_folder(company)


@pytest.fixture(scope="module")
def on_spark(on_duckdb: Source, spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Source:
    return to_spark(on_duckdb, spark, tmp_path_factory.mktemp("spark_parquet"))


def differences(reference: KpiResult, other: KpiResult) -> list[str]:
    """Every row that differs (beyond 1e-9), as readable lines."""
    found: list[str] = []
    if other.as_of != reference.as_of:
        found.append(f"as_of {other.as_of} != {reference.as_of}")
    expected = {(r.kpi, r.period, json.dumps(r.by)): r for r in reference.rows}
    actual = {(r.kpi, r.period, json.dumps(r.by)): r for r in other.rows}
    found += [f"{key}: missing on spark" for key in expected.keys() - actual.keys()]
    found += [f"{key}: only on spark" for key in actual.keys() - expected.keys()]
    for key in expected.keys() & actual.keys():
        mine, theirs = actual[key], expected[key]
        if mine.complete != theirs.complete:
            found.append(f"{key}: complete {mine.complete} != {theirs.complete}")
        for name in ("value", "numerator", "denominator"):
            a, b = getattr(theirs, name), getattr(mine, name)
            same = (a is None and b is None) or (
                a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            )
            if not same:
                found.append(f"{key}: {name} {b} on spark, {a} on duckdb")
    return sorted(found)


@pytest.mark.parametrize("by", [None, "channel", "owner"])
def test_every_kpi_equals_duckdb(on_duckdb: Source, on_spark: Source, by: Any) -> None:
    reference = compute_kpis(on_duckdb, grain="quarter", by=by)
    other = compute_kpis(on_spark, grain="quarter", by=by)
    # Every KPI that has this breakdown was computed, on both engines.
    names = {kpi.name for kpi in CATALOGUE if by is None or by in kpi.breakdowns}
    computed = {row.kpi for row in reference.rows}
    # The predicted CLV KPIs need the CLV models, which are not fitted on fewer than 100
    # customers (this company has fewer): no value, so no breakdown value to report.
    unfitted = {"predicted_clv", "predicted_ltv_to_cac"} if by is not None else set()
    assert names - unfitted <= computed <= names
    assert {row.kpi for row in other.rows} == computed
    # Not a vacuous comparison: most KPIs have values.
    assert sum(row.value is not None for row in reference.rows) > len(reference.rows) / 2
    problems = differences(reference, other)
    assert not problems, "\n".join(problems[:40])


def test_monthly_grain_with_dates_and_as_of(on_duckdb: Source, on_spark: Source) -> None:
    # Another grain, explicit bounds and an earlier as_of (tables cut at as_of).
    options: dict[str, Any] = {
        "grain": "month",
        "start": "2025-01-01",
        "end": "2025-06-30",
        "as_of": "2025-05-15T12:00:00",
    }
    reference = compute_kpis(on_duckdb, **options)
    other = compute_kpis(on_spark, **options)
    problems = differences(reference, other)
    assert not problems, "\n".join(problems[:40])


def test_tables_read_back_unshifted(on_duckdb: Source, on_spark: Source, spark: Any) -> None:
    jvm_zone = spark.sparkContext._jvm.java.util.TimeZone.getDefault().getID()
    assert jvm_zone == "America/New_York"  # not UTC: the session zone is what counts
    assert on_spark.backend._session.conf.get("spark.sql.session.timeZone") == "UTC"
    for name in ("contacts", "orders", "deals", "subscriptions", "spend"):
        assert on_spark.table(name).schema() == on_duckdb.table(name).schema(), name
        expected = readable(on_duckdb.execute(on_duckdb.table(name)))
        actual = readable(on_spark.execute(on_spark.table(name)))
        pd.testing.assert_frame_equal(actual, expected, obj=name)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order, timestamps in one resolution (DuckDB gives microseconds, Spark
    nanoseconds: the same instants)."""
    for column in frame.columns:
        if pd.api.types.is_datetime64_dtype(frame[column]):
            frame[column] = frame[column].astype("datetime64[ns]")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_kpi_command_on_spark(company: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["kpi", "--data", str(company), "--kpi", "revenue,cac,customer_churn_rate"]
    assert main([*arguments, "--by", "channel", "--format", "json"]) == 0
    on_duckdb = json.loads(capsys.readouterr().out)
    assert main([*arguments, "--by", "channel", "--format", "json", "--engine", "spark"]) == 0
    on_spark = json.loads(capsys.readouterr().out)
    assert on_spark["as_of"] == on_duckdb["as_of"]
    assert len(on_spark["rows"]) == len(on_duckdb["rows"]) > 0
    for mine, theirs in zip(on_spark["rows"], on_duckdb["rows"], strict=True):
        numbers = ("value", "numerator", "denominator")
        assert {k: v for k, v in mine.items() if k not in numbers} == {
            k: v for k, v in theirs.items() if k not in numbers
        }
        for name in numbers:
            if theirs[name] is None:
                assert mine[name] is None, (mine, name)
            else:
                assert mine[name] == pytest.approx(theirs[name], rel=1e-9, abs=1e-9), (mine, name)
    assert main([*arguments, "--engine", "sqlite"]) == 2
    assert "--engine sqlite" in capsys.readouterr().err
