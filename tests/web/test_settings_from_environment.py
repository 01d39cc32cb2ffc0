"""Settings read from the environment refuse a value they cannot use, saying which and
what to write instead (the server does not start with it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_page_budget_that_is_not_a_number_of_seconds_is_refused(value, tmp_path):
    env = {**os.environ, "PILOTAGE_HOME": str(tmp_path), "PILOTAGE_PAGE_BUDGET_SECONDS": value}
    done = subprocess.run(
        [sys.executable, "-c", "import pilotage.web.settings"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert f"PILOTAGE_PAGE_BUDGET_SECONDS='{value}': use a number of seconds" in done.stderr


@pytest.mark.parametrize(("value", "expected"), [("", "None"), ("0.5", "0.5"), (" 3 ", "3.0")])
def test_a_page_budget_in_seconds_or_none(value, expected, tmp_path):
    env = {**os.environ, "PILOTAGE_HOME": str(tmp_path), "PILOTAGE_PAGE_BUDGET_SECONDS": value}
    code = "import pilotage.web.settings as s; print(s.PILOTAGE_PAGE_BUDGET_SECONDS)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == expected
