"""Pilotage: the sales-performance CRM, as a Python package.

The same operations as the command line, returning typed results (each with
`.to_pandas()` or `.to_frame()` and the JSON document of the command's `--format json`):

    import pilotage
    source = pilotage.open_source(data=Path("acme"))          # a contract folder, or db=URL
    pilotage.kpis(source, grain="quarter", by="channel")      # KpiResult
    pilotage.attribution(source, model="markov")              # AttributionResult
    pilotage.attribution.levers(source)                       # scale / cut / watch
    pilotage.scoring.score(source)                            # scores, grades, RFM, priority
    pilotage.clv.BetaGeo().fit(frequency, recency, T)         # lifetime value models

The analytical core (contract, engine, attribution, scoring, clv, demo) never imports
Django; the web project in `pilotage.web` is an adapter around it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pilotage.engine.backends import Source
    from pilotage.engine.compute import KpiResult

__all__ = ["__version__", "attribution", "clv", "kpis", "open_source", "scoring"]


def open_source(*args: Any, **kwargs: Any) -> Source:
    """A contract folder (`data=`) or a CRM database (`db=`) to compute on."""
    from pilotage.engine.backends import open_source as open_

    return open_(*args, **kwargs)


def kpis(source: Source, **options: Any) -> KpiResult:
    """The KPI table of `pilotage kpi` (options: grain, start, end, by, kpis, as_of)."""
    from pilotage.engine.compute import compute_kpis

    return compute_kpis(source, **options)


def __getattr__(name: str) -> Any:
    # Subpackages load on first use: `import pilotage` stays light for the command line.
    if name in ("attribution", "clv", "scoring"):
        import importlib

        return importlib.import_module(f"pilotage.{name}")
    raise AttributeError(f"module 'pilotage' has no attribute {name!r}")
