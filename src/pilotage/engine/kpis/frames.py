"""Pandas frames computed once per KPI run and shared by the KPIs that read them.

Some KPIs need a computation the engine's SQL cannot express (a model fitted in scipy,
the score history's assignment rule): it runs once per `KpiContext`, and each KPI hands
the small frame to the engine with `ibis.memtable`. (Not `KpiContext.shared`: that caches
an engine table, and a pandas-made table belongs to no engine until it is executed.)
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import pandas as pd

from pilotage.engine.context import KpiContext

_FRAMES: dict[tuple[int, str], tuple[weakref.ref[KpiContext], pd.DataFrame]] = {}


def context_frame(ctx: KpiContext, name: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """`build()` once per context and name; forgotten with the context."""
    key = (id(ctx), name)
    held = _FRAMES.get(key)
    if held is not None and held[0]() is ctx:
        return held[1]
    frame = build()
    _FRAMES[key] = (weakref.ref(ctx, lambda _: _FRAMES.pop(key, None)), frame)
    return frame
