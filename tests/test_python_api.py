"""The Python package answers like the command line (interfaces.md, "Python package")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pilotage
from pilotage.cli import main
from pilotage.demo.generator import generate_company


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("company")
    generate_company(folder, contacts=300, seed=7)
    return folder


def test_kpis_equal_the_command_line(company, capsys):
    source = pilotage.open_source(data=company)
    result = pilotage.kpis(source, grain="quarter", kpis=["new_customers", "revenue"])
    assert (
        main(
            [
                "kpi",
                "--data",
                str(company),
                "--grain",
                "quarter",
                "--kpi",
                "new_customers,revenue",
                "--format",
                "json",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert result.to_dict()["rows"] == printed["rows"]
    assert len(result.to_pandas()) == len(printed["rows"])


def test_attribution_is_callable_and_a_module(company):
    source = pilotage.open_source(data=company)
    result = pilotage.attribution(source, model="linear", by="channel")
    new_customers = pilotage.kpis(source, grain="quarter", kpis=["new_customers"])
    # Credits of every conversion sum to 1, so per period they add up to new customers.
    for row in new_customers.rows:
        credited = sum(r.conversions for r in result.rows if r.period == row.period)
        assert credited == pytest.approx(row.value or 0.0)
    assert type(pilotage.attribution.levers(source)).__name__ == "LeversResult"


def test_models_are_reachable_from_the_package():
    assert pilotage.clv.BetaGeo().__class__.__name__ == "BetaGeo"
    assert callable(pilotage.scoring.score)
