"""Where the CDNOW files are for the CLV tests (a module name unique across tests/)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

# The CI clone has shared/ next to the repository root (tests/clv/x.py -> parents[2]).
CDNOW_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cdnow"
CALIBRATION_END = date(1997, 9, 30)


def cdnow_file(name: str) -> Path:
    path = CDNOW_DIR / name
    if not path.is_file():
        pytest.skip(f"CDNOW data not found at {path} (shared/ is a sibling of the repository)")
    return path
