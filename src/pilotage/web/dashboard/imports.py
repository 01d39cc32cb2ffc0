"""The imports page's own step: mapping a CSV's columns to the contract before the upload
goes to the API's import jobs (`pilotage.web.api.imports`), which load it in the
background with progress and rejects."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from pilotage.contract.schema import TABLES_BY_NAME

PREVIEW_ROWS = 5
IGNORE = "-"
KEEP = "+"  # keep as a custom attribute under its own name


def pending_dir() -> Path:
    folder = Path(settings.DATA_HOME) / "imports" / "pending"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def pending_path(token: str) -> Path | None:
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        return None
    path = pending_dir() / f"{token}.csv"
    return path if path.exists() else None


def pending_store(data: bytes) -> str:
    token = uuid.uuid4().hex
    (pending_dir() / f"{token}.csv").write_bytes(data)
    return token


@dataclass(frozen=True)
class MappingPreview:
    header: list[str]
    rows: list[list[str]]
    columns: list[str]  # the contract's columns of the table
    required: list[str]
    guesses: dict[str, str]  # file column -> contract column, KEEP or IGNORE


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def mapping_preview(path: Path, table: str) -> MappingPreview:
    spec = TABLES_BY_NAME[table]
    text = path.read_bytes()[: 1 << 20].decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    rows = [row for _, row in zip(range(PREVIEW_ROWS), reader, strict=False)]
    columns = list(spec.column_names)
    required = [c.name for c in spec.columns if c.required]
    guesses = {}
    for name in header:
        normal = _normal(name)
        guesses[name] = next((c for c in columns if c == normal), KEEP)
    return MappingPreview(header, rows, columns, required, guesses)


def mapped_csv(path: Path, mapping: dict[str, str]) -> bytes:
    """The file with its header renamed (and ignored columns dropped) as mapped."""
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    keep = [i for i, name in enumerate(header) if mapping.get(name, KEEP) != IGNORE]
    names = [
        (mapping.get(header[i], KEEP) if mapping.get(header[i], KEEP) != KEEP else header[i])
        for i in keep
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in reader:
        writer.writerow([row[i] if i < len(row) else "" for i in keep])
    return out.getvalue().encode()


def mapping_problems(mapping: dict[str, str], table: str) -> list[str]:
    spec = TABLES_BY_NAME[table]
    targets = [v for v in mapping.values() if v not in (KEEP, IGNORE)]
    problems = [f"{c.name}" for c in spec.columns if c.required and c.name not in targets]
    duplicates = sorted({t for t in targets if targets.count(t) > 1})
    return [*(f"missing:{p}" for p in problems), *(f"twice:{d}" for d in duplicates)]
