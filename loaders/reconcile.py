"""Keeping the lake and raw on the same version of a day.

Each write of a day is a new lake version (``loaders/lake.py``); raw's ``load_audit`` records
the version each load put in (``lake_version``). The rule:

* **Lake first** (shop extracts, the interactions file on Redshift): the lake's publish is the
  commit point; the load that follows puts that version in raw and only then retires the older
  one. Until it has run, raw holds the previous version, which is still in the lake.
* **One pass** (the interactions file into PostgreSQL): raw's commit is the commit point. The
  lake's version is staged (objects and ``_manifest-<version>.json``) before it and published
  after it. A crash between the two leaves raw one version ahead of ``_manifest.json``;
  ``reconcile_day``, run by the next load of the day (and by ``loaders reconcile``), publishes
  the staged version raw committed. If the warehouse connection breaks during the commit itself,
  the outcome is unknown to the loader, so it keeps the staged version for that same rule.

Nothing is deleted before the version that replaces it is committed in both places, so every
crash leaves the old or the new version, whole, in each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

from loaders import failpoints, warehouse
from loaders.days import day_prefix
from loaders.errors import LoaderError
from loaders.lake import DayWriter, Lake

log = logging.getLogger(__name__)


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def commit_day(conn: psycopg.Connection, day: DayWriter, label: str) -> None:
    """Commit the load's transaction, which holds ``day``'s version: the one-pass commit point."""
    day.keep_on_error = True  # from here on the warehouse may hold the version: keep its objects
    try:
        conn.commit()
    except psycopg.Error as err:
        raise LoaderError(
            f"the warehouse connection broke while committing {label} ({first_line(err)}); whether it "
            f"was committed is settled by the next load of the day, or now by "
            f"`python -m loaders reconcile --ds {day.prefix.rpartition('=')[2]}`"
        ) from err
    failpoints.reached("ingest:committed")


@dataclass(frozen=True)
class DayState:
    table: str
    ds: str
    lake_version: str | None  # published in _manifest.json
    raw_version: str | None  # held by raw (its last load)
    action: str  # what reconcile_day did or found


def reconcile_day(
    lake: Lake, conn: psycopg.Connection, schema: str, source: str, table: str, ds: str
) -> DayState:
    """Publish the staged version raw committed, if the lake's ``_manifest.json`` is behind it.

    Run it under the load's (table, day) lock (``warehouse.lock_day``), so no load of the day
    is between its commit and its publish meanwhile."""
    prefix = day_prefix(source, table, ds)
    with lake.day_lock(prefix):
        current = lake.published(prefix)
        held = warehouse.raw_version(conn, schema, table, ds) if _has_audit(conn, schema) else None
        if held is None or held == current.version:
            return DayState(table, ds, current.version, held, "in step" if held else "nothing to do")
        if current.version is not None and held < current.version:
            return DayState(table, ds, current.version, held, "raw is behind the lake: load the day")
        if lake.read_version_manifest(prefix, held) is None:
            return DayState(table, ds, current.version, held, "raw holds a version the lake does not have")
        lake.publish_version(prefix, held, expect=current)
        lake.retire(prefix, held)
        log.warning(
            "%s %s: the lake was one version behind raw (a load stopped between its commit and the "
            "lake's publish); published version %s",
            table, ds, held,
        )  # fmt: skip
        return DayState(table, ds, held, held, "rolled the lake forward")


def _has_audit(conn: psycopg.Connection, schema: str) -> bool:
    name = sql.Identifier(schema, "load_audit").as_string(conn)
    row = conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()
    return bool(row and row[0])
