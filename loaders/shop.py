"""Extracts of the shop's PostgreSQL database into the lake, one table and one day at a time.

What is extracted is declared once, in ``loaders/catalog.py``: the columns (and their types, which the
raw tables reuse) and how a day is chosen. A table with a ``changed_at`` column is extracted
incrementally: the rows changed during the day (``--full`` takes every row changed up to the
end of the day, for a first load). A table without one is a full snapshot every day.

Rows stream out of PostgreSQL with ``COPY (select ...) TO STDOUT`` (run by ``psql``: ``PSQL``,
or the one on ``PATH``) in a read-only, repeatable-read transaction, through gzip into a new
version of ``raw/shop/<table>/ds=<day>/`` (``part-00000-<version>.csv.gz``)
published by its ``_manifest.json`` (rows, bytes, sha256, columns, window); the version before
stays until raw has loaded the new one (``loaders/reconcile.py``). No table is held in memory.

Why CSV+gzip rather than Parquet: PostgreSQL emits and ingests CSV natively, so extract and
load are pure byte streams with no per-row conversion in Python, and Redshift's
``COPY ... CSV GZIP`` accepts every safety option Parquet COPY lacks.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from loaders import failpoints, warehouse
from loaders.catalog import RawTable
from loaders.config import PostgresTarget, psql_binary
from loaders.days import day_bounds, day_prefix, validate_ds
from loaders.errors import BadInputError, LoaderError
from loaders.lake import Lake
from loaders.streams import GzipPart

log = logging.getLogger(__name__)

SOURCE = "shop"
PROGRESS_EVERY_SECONDS = 2.0


@dataclass
class ExtractResult:
    table: str
    ds: str
    mode: str
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    lake_uri: str = ""
    window: dict[str, str] = field(default_factory=dict)


def extract_table(
    shop: PostgresTarget, lake: Lake, table: RawTable, ds: str, *, full: bool = False
) -> ExtractResult:
    """Extract day ``ds`` of ``table`` from the shop database into the lake."""
    validate_ds(ds)
    start = time.monotonic()
    day_start, day_end = day_bounds(ds)
    where: sql.Composable = sql.SQL("")
    params: list[dt.datetime] = []
    window: dict[str, str] = {}
    if table.changed_at:
        column = sql.Identifier(table.changed_at)
        if full:
            where, params = sql.SQL(" where {} < %s").format(column), [day_end]
            window = {"column": table.changed_at, "before": day_end.isoformat()}
        else:
            where, params = sql.SQL(" where {c} >= %s and {c} < %s").format(c=column), [day_start, day_end]
            window = {
                "column": table.changed_at,
                "from": day_start.isoformat(),
                "before": day_end.isoformat(),
            }
    mode = "full" if (full and table.changed_at) else table.mode
    result = ExtractResult(table=table.name, ds=ds, mode=mode, window=window)
    prefix = day_prefix(SOURCE, table.name, ds)

    with warehouse.connect(shop, "shop") as conn:
        _check_source_columns(conn, table)
        select = sql.SQL("select {cols} from {table}{where}").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, table.column_names)),
            table=sql.Identifier(table.name),
            where=where,
        )
        select_text = select.as_string(conn)
        query_text = sql.SQL("{} order by {}").format(select, sql.Identifier(table.key)).as_string(conn)
        # bind the window into the text: psql runs it (values are datetimes we made, quoted by psycopg)
        for value in params:
            literal = sql.Literal(value).as_string(conn)
            select_text = select_text.replace("%s", literal, 1)
            query_text = query_text.replace("%s", literal, 1)

    with lake.write_day(prefix) as day:
        part = GzipPart(day, "part-00000.csv.gz", level=1)
        try:
            result.rows, result.bytes = _stream_copy_out(
                shop, select_text, query_text, part, f"shop.{table.name} {ds}", start
            )
            part_info = {**part.close(), "rows": result.rows}
        except BaseException:
            part.abort()
            raise
        day.stage_manifest(
            {
                "source": SOURCE,
                "table": table.name,
                "ds": ds,
                "mode": mode,
                "window": window,
                "source_database": shop.describe(),
                "format": "csv.gz",
                "csv": {"header": True, "delimiter": ",", "quote": '"', "null": "", "encoding": "utf-8"},
                "columns": [{"name": n, "type": t} for n, t in table.columns],
                "parts": [part_info],
                "rows_read": result.rows,
                "rows_valid": result.rows,
                "rows_rejected": 0,
                "extracted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            },
        )
        failpoints.reached("extract:staged")
    # published (the lake's commit point); raw may still hold the previous version: keep it
    failpoints.reached("extract:published")
    lake.retire(prefix, day.version, spare=day.replaces.version)
    result.seconds = time.monotonic() - start
    result.lake_uri = lake.uri(prefix)
    log.info(
        "shop.%s %s (%s): %s rows, %.1f MB in %.2fs (%s rows/s)",
        table.name, ds, mode, f"{result.rows:,}", result.bytes / 1e6, result.seconds,
        f"{result.rows / result.seconds:,.0f}" if result.seconds else "-",
    )  # fmt: skip
    return result


def _stream_copy_out(
    shop: PostgresTarget, count_query: str, copy_query: str, part: GzipPart, label: str, start: float
) -> tuple[int, int]:
    """Run ``COPY (copy_query) TO STDOUT`` in ``psql`` and stream its output into ``part``.

    libpq hands COPY OUT data over one row at a time, which would put Python in the per-row
    path; psql's C loop writes it to a pipe we read a megabyte at a time. The row count comes
    from the same repeatable-read snapshot (a count before the COPY, sent to stderr), so it is
    exact even when values contain line breaks. Returns (rows, bytes)."""
    script = (
        "begin isolation level repeatable read, read only;\n"
        f"select count(*) as extracted_rows from ({count_query}) as window_rows \\gset\n"
        "\\warn ROWS :extracted_rows\n"
        f"copy ({copy_query}) to stdout (format csv, header true);\n"
        "commit;\n"
    )
    env = {
        **os.environ,
        "PGHOST": shop.host, "PGPORT": str(shop.port), "PGUSER": shop.user, "PGPASSWORD": shop.password,
        "PGDATABASE": shop.dbname, "PGSSLMODE": shop.sslmode, "PGCONNECT_TIMEOUT": str(shop.connect_timeout),
        "PGOPTIONS": "-c timezone=UTC -c datestyle=ISO", "PGAPPNAME": "loaders-extract",
    }  # fmt: skip
    process = subprocess.Popen(
        [psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert process.stdin and process.stdout and process.stderr
    process.stdin.write(script.encode())
    process.stdin.close()
    total = 0
    last_report = time.monotonic()
    try:
        while chunk := process.stdout.read(1 << 20):
            part.write(chunk)
            total += len(chunk)
            failpoints.reached("extract:copy-started")
            now = time.monotonic()
            if now - last_report >= PROGRESS_EVERY_SECONDS:
                last_report = now
                log.info("%s: %.0f MB so far (%.0f MB/s)", label, total / 1e6, total / 1e6 / (now - start))
    finally:
        stderr = process.stderr.read().decode(errors="replace")
        code = process.wait()
    match = re.search(r"^ROWS (\d+)$", stderr, re.MULTILINE)
    if code != 0 or match is None:
        message = next(
            (line for line in stderr.splitlines() if line.strip() and not line.startswith("ROWS")), stderr
        )
        raise LoaderError(f"extracting {label} failed: {message.strip()}")
    return int(match.group(1)), total


def _check_source_columns(conn: psycopg.Connection, table: RawTable) -> None:
    found = [
        name
        for (name,) in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = current_schema() and table_name = %s order by ordinal_position",
            (table.name,),
        ).fetchall()
    ]
    if not found:
        search_path = conn.execute("show search_path").fetchone()
        raise BadInputError(
            f"the shop database has no table {table.name!r} (schema search path: "
            f"{search_path[0] if search_path else '?'}); check SHOP_DBNAME"
        )
    missing = [c for c in table.column_names if c not in found]
    if missing:
        raise BadInputError(
            f"shop table {table.name} has no column {', '.join(missing)} (it has {', '.join(found)}); "
            "the source changed: adapt SHOP_TABLES in loaders/shop.py and the dbt sources"
        )
