"""The manifest of a landed day, read back and checked before anything is loaded from it.

A manifest is written by the loaders (``interactions.py``, ``shop.py``) but read from a lake
anyone with write access can change, so it is parsed like input: ``Manifest.parse`` refuses,
with one line naming the day and the field, anything that is not exactly what a load can use
(wrong types, counts that do not add up, object names that leave the day's folder, rejects
counted but not listed, columns that are not the table's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeGuard

from loaders.catalog import raw_columns
from loaders.errors import BadInputError

_OBJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Part:
    key: str  # the object's name inside the day's folder
    rows: int
    bytes: int
    sha256: str | None


@dataclass(frozen=True)
class Manifest:
    source: str
    table: str
    ds: str
    version: str | None
    format: str
    columns: tuple[tuple[str, str], ...]  # (name, type)
    parts: tuple[Part, ...]
    rejects: Part | None
    rows_read: int
    rows_valid: int
    rows_rejected: int
    source_sha256: str | None
    document: dict[str, Any]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @classmethod
    def parse(cls, document: Any, where: str, *, source: str, table: str, ds: str,
              columns: list[str] | None = None) -> Manifest:  # fmt: skip
        """Check ``document`` describes day ``ds`` of ``source``/``table`` in a loadable form."""
        problems: list[str] = []

        def fail() -> BadInputError:
            return BadInputError(f"{where}: unusable manifest ({'; '.join(problems)}); land the day again")

        if not isinstance(document, dict):
            problems.append(f"a JSON {type(document).__name__}, not an object")
            raise fail()
        if (document.get("source"), document.get("table"), document.get("ds")) != (source, table, ds):
            problems.append(
                f"it describes {document.get('source')}/{document.get('table')} {document.get('ds')}"
            )
        if document.get("format") != "csv.gz":
            problems.append(f"format {document.get('format')!r} is not csv.gz")
        parsed_columns = _columns(document.get("columns"), problems)
        if columns is not None and sorted(n for n, _ in parsed_columns) != sorted(columns):
            problems.append(f"columns {[n for n, _ in parsed_columns]} differ from {columns}")
        raw_parts = document.get("parts")
        if not isinstance(raw_parts, list) or not raw_parts:
            problems.append("it lists no parts")
            raw_parts = []
        parts = tuple(p for i, entry in enumerate(raw_parts) if (p := _part(entry, f"parts[{i}]", problems)))
        # as found (any JSON value); _count tells a usable one
        counts: list[Any] = [document.get(k) for k in ("rows_read", "rows_valid", "rows_rejected")]
        if not all(_count(v) for v in counts) or counts[0] != counts[1] + counts[2]:
            problems.append(f"its counts do not add up (read, valid, rejected = {counts})")
        elif parts and sum(p.rows for p in parts) != counts[1]:
            problems.append(f"its parts hold {sum(p.rows for p in parts)} rows, rows_valid is {counts[1]}")
        rejects = None
        if document.get("rejects") is not None:
            rejects = _part(document["rejects"], "rejects", problems)
            if rejects is not None and _count(counts[2]) and rejects.rows != counts[2]:
                problems.append(f"its rejects part holds {rejects.rows} rows, rows_rejected is {counts[2]}")
        elif _count(counts[2]) and counts[2] > 0:
            problems.append(f"it counts {counts[2]} rejects but lists no rejects part")
        version = document.get("version")
        if version is not None and not isinstance(version, str):
            problems.append("its version is not text")
        sha = document.get("source_sha256")
        if sha is not None and not (isinstance(sha, str) and _SHA256.match(sha)):
            problems.append("its source_sha256 is not a sha256")
        if problems:
            raise fail()
        return cls(
            source=source, table=table, ds=ds, version=version, format="csv.gz", columns=parsed_columns,
            parts=parts, rejects=rejects, rows_read=counts[0], rows_valid=counts[1], rows_rejected=counts[2],
            source_sha256=sha, document=document,
        )  # fmt: skip


def _count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _columns(value: Any, problems: list[str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not value:
        problems.append("its columns are not a list of {name, type}")
        return ()
    columns = []
    for entry in value:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("type"), str)
        ):
            problems.append("its columns are not a list of {name, type}")
            return ()
        columns.append((entry["name"], entry["type"]))
    return tuple(columns)


def _part(entry: Any, label: str, problems: list[str]) -> Part | None:
    if not isinstance(entry, dict):
        problems.append(f"{label} is not an object")
        return None
    key, rows, size, sha = entry.get("key"), entry.get("rows"), entry.get("bytes", 0), entry.get("sha256")
    if not isinstance(key, str) or not _OBJECT_NAME.match(key) or ".." in key:
        problems.append(f"{label} names {key!r}, not an object of the day's folder")
        return None
    if not _count(rows) or not _count(size):
        problems.append(f"{label} has no row or byte count")
        return None
    if sha is not None and not (isinstance(sha, str) and _SHA256.match(sha)):
        problems.append(f"{label} has a sha256 that is not one")
        return None
    return Part(key=key, rows=rows, bytes=size, sha256=sha)


def check_manifest(document: object, source: str, table: str, ds: str, where: str) -> Manifest:
    """Refuse a manifest that does not describe this day of this raw table, in a loadable form."""
    expected = [name for name, _ in raw_columns(source, table)]
    return Manifest.parse(document, where, source=source, table=table, ds=ds, columns=expected)
