"""What a load of a day into raw reports, whichever warehouse it went to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LoadResult:
    source: str
    table: str
    ds: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    load_id: int | None = None
