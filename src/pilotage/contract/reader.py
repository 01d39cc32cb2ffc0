"""A contract folder as a source for the engine: validated, then read with DuckDB."""

from __future__ import annotations

from pathlib import Path

from pilotage.contract.settings import Settings, load_settings
from pilotage.contract.validation import Problem, Validation, validate_folder
from pilotage.engine.backends import Source, from_duckdb


class ContractError(ValueError):
    """A folder breaks the contract; `problems` lists every bad row."""

    def __init__(self, validation: Validation) -> None:
        self.validation = validation
        self.problems: list[Problem] = validation.problems
        first = "\n".join(str(p) for p in self.problems[:20])
        more = len(self.problems) - 20
        suffix = f"\n... and {more} more" if more > 0 else ""
        super().__init__(f"{validation.folder}: {len(self.problems)} problems\n{first}{suffix}")


def read_folder(folder: Path, settings: Settings | None = None) -> Source:
    """The folder's tables, typed for the engine. Refuses a folder with any bad row (run
    `pilotage validate` to see and fix them all)."""
    settings = settings or load_settings(None, folder)
    validation = validate_folder(folder, settings)
    if not validation.ok:
        raise ContractError(validation)
    return from_duckdb(validation.connection, settings, str(folder))
