"""Safe CSV output of the web app and the API: the rule of `pilotage.contract.csv_safety`
(shared with the command line and the rejects files), under its web-side name.

A text cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage
return first) gets a leading apostrophe; numbers, and text that is a plain number such as
`-5.00`, are left alone.
"""

from __future__ import annotations

from pilotage.contract.csv_safety import (
    FORMULA_STARTS,
    safe_csv_row,
    safe_csv_value,
    write_safe_csv,
)

__all__ = ["FORMULA_STARTS", "safe_csv_row", "safe_csv_value", "write_safe_csv"]
