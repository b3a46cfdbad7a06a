"""The day: how a ``--ds`` is checked, its UTC bounds, and where its files live in the lake.

Every loader, the lake and the command line take a day from here; none takes it from another.
"""

from __future__ import annotations

import datetime as dt

from loaders.errors import LoaderError

FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2999, 12, 31)


def validate_ds(ds: str) -> str:
    """``ds`` if it is a day (YYYY-MM-DD) the pipeline loads, else a LoaderError saying so."""
    try:
        parsed = dt.date.fromisoformat(ds)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.isoformat() != ds:
        raise LoaderError(f"--ds {ds!r} is not a day: use YYYY-MM-DD, e.g. 2026-11-20")
    if not FIRST_DAY <= parsed <= LAST_DAY:
        raise LoaderError(
            f"--ds {ds!r} is not a day this pipeline loads: give one from {FIRST_DAY} to {LAST_DAY}"
        )
    return ds


def day_bounds(ds: str) -> tuple[dt.datetime, dt.datetime]:
    """The day's start and the next day's start, in UTC."""
    day = dt.date.fromisoformat(ds)
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def day_prefix(source: str, table: str, ds: str) -> str:
    """The day's folder in the lake."""
    return f"raw/{source}/{table}/ds={ds}"
