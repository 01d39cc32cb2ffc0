"""docs/kpis.md, generated from the KPI catalogue.

`python -m pilotage.engine.docs` prints the page; `--write` rewrites docs/kpis.md (a test
checks that the checked-in page is current).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pilotage.engine.catalogue import CATALOGUE, SECTIONS, Kpi
from pilotage.engine.context import BY_KEYS

# In a source checkout; `--write` is for developers (an installed package prints).
DOCS_PATH = Path(__file__).resolve().parents[3] / "docs" / "kpis.md"

_WINDOWS = {
    "conversion": "P.end + conversion_window_days (W)",
    "revenue": "P.end + revenue_window_days (R)",
    "inactivity": "P.end + inactivity_days (D)",
}
_DIRECTIONS = {True: "higher is better", False: "lower is better", None: "neither"}


def render() -> str:
    lines = [
        "# KPI catalogue",
        "",
        "<!-- Generated from src/pilotage/engine/catalogue.py by "
        "`python -m pilotage.engine.docs --write`: edit the catalogue, not this page. -->",
        "",
        "Every KPI Pilotage computes, as `pilotage kpi`, `pilotage.kpis(...)`, the REST API "
        "and the dashboard report it. Definitions: shared/spec/kpis.md.",
        "",
        "Result rows carry `kpi`, `period`, `period_start` and `period_end` (ISO-8601 local "
        'times with the company\'s UTC offset), `by` (null, or e.g. `{"channel": "web"}`; '
        "keys: "
        + ", ".join(f"`{key}`" for key in BY_KEYS.values())
        + "; `stage_conversion` adds `from` and `to`), `value`, `numerator`, `denominator` "
        "and `complete`. Rates are fractions. A ratio with a zero denominator is null. In a "
        "period the data covers, a count or sum without any row is 0; a period outside the "
        "data (before its first timestamp, or after `as_of`) is null with `complete` false. "
        "`complete` is false while the period, or the window the KPI needs after it, has "
        "not elapsed at `as_of` (default: the latest timestamp in the data).",
        "",
        "`expected_wins` and `wins_over_expected` read the conversion probabilities the "
        "scoring app stores in the CRM database (scoring.md): on a contract folder, which "
        "keeps no score history, their values are null and `pilotage kpi` says why.",
        "",
        "| KPI | unit | direction | breakdowns | complete when |",
        "|---|---|---|---|---|",
    ]
    for kpi in CATALOGUE:
        lines.append(
            f"| [`{kpi.name}`](#{kpi.name}) | {kpi.unit} | {_DIRECTIONS[kpi.higher_is_better]}"
            f" | {', '.join(kpi.breakdowns) or '-'} | {_WINDOWS.get(kpi.window or '', 'P.end')}"
            " <= as_of |"
        )
    section = None
    for kpi in CATALOGUE:
        if kpi.section != section:
            section = kpi.section
            english, french = SECTIONS[section]
            lines += ["", f"## {english} / {french}"]
        lines += ["", *_entry(kpi)]
    return "\n".join(lines) + "\n"


def _entry(kpi: Kpi) -> list[str]:
    return [
        f"### {kpi.name}",
        "",
        f"**{kpi.label_en}** / **{kpi.label_fr}**",
        "",
        f"- Formula: `{kpi.formula}`",
        f"- Unit: {kpi.unit}; {_DIRECTIONS[kpi.higher_is_better]}",
        f"- Breakdowns: {', '.join(kpi.breakdowns) or 'none'}",
        f"- Complete when: {_WINDOWS.get(kpi.window or '', 'P.end')} <= as_of",
        *(
            [f"- Computed in Python: {kpi.computed_in_python}, joined to its SQL"]
            if kpi.computed_in_python
            else []
        ),
        "",
        kpi.definition_en,
        "",
        f"*{kpi.definition_fr}*",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {DOCS_PATH}")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOCS_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOCS_PATH}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
