from __future__ import annotations

import pandas as pd
import pytest
from clv_data import CALIBRATION_END, cdnow_file

from pilotage.clv.datasets import cdnow_source
from pilotage.clv.summary import customer_summary
from pilotage.engine.backends import Source


@pytest.fixture(scope="session")
def cdnow_sample_source() -> Source:
    return cdnow_source(cdnow_file("CDNOW_sample.txt"), sample=True)


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_sample_source: Source) -> pd.DataFrame:
    """The published convention: every CDNOW purchase counts, $0.00 ones included."""
    return customer_summary(
        cdnow_sample_source,
        calibration_end=CALIBRATION_END,
        unit="week",
        include_zero_amount=True,
    )
