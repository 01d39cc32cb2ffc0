"""The KPI expressions, one module per family of kpis.md; `pilotage.engine.catalogue`
declares each KPI once and points at its builder here."""
