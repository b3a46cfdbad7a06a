"""Load a landed day from the lake into the warehouse's raw schema (PostgreSQL).

The day's published manifest (``loaders/manifest.py`` checks it) says what to load. Each part streams from the lake object (local file or
S3 body) through a verified gunzip straight into ``COPY ... FROM STDIN``: no temporary copy, no
Python per row. The rows land in a fresh partition that replaces the day, with the rejects the
manifest lists and the audit row (with the lake version), in one transaction: a failed, killed
or repeated load leaves exactly one copy of the day, or the previous one. After the commit the
lake version it replaced is retired.

The Redshift path (``loaders.redshift``) takes the same manifest and issues ``COPY ... FROM
's3://...'`` instead; the caller picks the path (``loaders.cli`` and the DAG, by
``WAREHOUSE_KIND``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import time
from contextlib import suppress
from typing import BinaryIO

import psycopg
from psycopg import sql

from loaders import failpoints, warehouse
from loaders.catalog import raw_table
from loaders.config import PostgresTarget
from loaders.days import day_prefix, validate_ds
from loaders.errors import BadInputError, LoaderError
from loaders.lake import Lake
from loaders.manifest import Manifest, Part, check_manifest
from loaders.reconcile import first_line
from loaders.results import LoadResult
from loaders.streams import ThreadedSink, gunzip_verified

log = logging.getLogger(__name__)


def load_day(
    lake: Lake, target: PostgresTarget, source: str, table: str, ds: str, *, raw_schema: str = "raw"
) -> LoadResult:
    """Load day ``ds`` of ``source``/``table`` from the lake into ``raw.<table>``: the version
    the lake has published; then retire the version it replaced."""
    validate_ds(ds)
    start = time.monotonic()
    started_at = dt.datetime.now(dt.UTC)
    prefix = day_prefix(source, table, ds)
    manifest = check_manifest(lake.read_manifest(prefix), source, table, ds, lake.uri(prefix))
    result = LoadResult(source=source, table=table, ds=ds)
    source_file = lake.uri(prefix) + "/"

    with warehouse.connect(target) as conn:
        try:
            warehouse.ensure_raw_schema(conn, raw_schema, raw_table(source, table))
            replacement = warehouse.begin_day_replacement(conn, raw_schema, table, ds)
            result.load_id = replacement.load_id
            # FREEZE: the partition was created in this transaction, so its rows can be written
            # frozen (no hint-bit rewrite or vacuum of the whole day on its first read).
            # HEADER MATCH: each part's header must name the manifest's columns, in its order.
            statement = sql.SQL("copy {} ({}) from stdin (format csv, header match, freeze)").format(
                replacement.target, sql.SQL(", ").join(map(sql.Identifier, manifest.column_names))
            )
            for part in manifest.parts:
                result.rows_loaded += _copy_part(conn, lake, prefix, part, statement, result)
            rejects = _read_rejects(lake, prefix, manifest)
            result.rows_rejected = manifest.rows_rejected
            result.rows_read = result.rows_loaded + result.rows_rejected
            replacement.finish(
                warehouse.AuditRow(
                    source=source, table_name=table, ds=ds, source_file=source_file,
                    source_sha256=manifest.source_sha256, rows_read=result.rows_read,
                    rows_loaded=result.rows_loaded, rows_rejected=result.rows_rejected,
                    bytes_read=result.bytes_read, seconds=time.monotonic() - start, started_at=started_at,
                    lake_version=manifest.version,
                ),
                rejects,
            )  # fmt: skip
            failpoints.reached("load:before-commit")
            conn.commit()
        except psycopg.Error as err:
            with suppress(psycopg.Error):
                conn.rollback()
            raise LoaderError(
                f"loading {lake.uri(prefix)} into {target.describe()} failed "
                f"({first_line(err)}); nothing was changed"
            ) from err
        except BaseException:
            with suppress(psycopg.Error):
                conn.rollback()
            raise
    failpoints.reached("load:committed")
    if manifest.version is not None:  # raw holds it now: the version it replaced can go
        lake.retire(prefix, manifest.version)
    result.seconds = time.monotonic() - start
    log.info(
        "raw.%s %s: %s rows loaded, %s rejected (from the lake), %.1f MB in %.2fs",
        table, ds, f"{result.rows_loaded:,}", f"{result.rows_rejected:,}", result.bytes_read / 1e6, result.seconds,
    )  # fmt: skip
    return result


def _copy_part(
    conn: psycopg.Connection, lake: Lake, prefix: str, part: Part, statement: sql.Composed, result: LoadResult
) -> int:
    key = f"{prefix}/{part.key}"
    body = _open_listed(lake, key)
    cursor = conn.cursor()
    # a thread of its own feeds the server while this one reads and decompresses
    with (
        body,
        cursor.copy(statement) as copy,
        ThreadedSink(copy.write, name="copy-feeder") as feeder,
    ):
        for i, data in enumerate(gunzip_verified(_Counting(body, result), lake.uri(key), part.sha256)):
            feeder.write(data)
            if i == 0:
                failpoints.reached("load:copy-started")
    if cursor.rowcount != part.rows:
        raise BadInputError(
            f"{lake.uri(key)} holds {cursor.rowcount:,} rows, its manifest says {part.rows:,}; land the day again"
        )
    return cursor.rowcount


def _read_rejects(lake: Lake, prefix: str, manifest: Manifest) -> list[tuple[int, str, str]]:
    """The day's quarantined lines (line number, raw text, reason) the manifest lists, checked
    against it; none when it lists none, so the day's old ones do not stay."""
    if manifest.rejects is None:
        return []
    key = f"{prefix}/{manifest.rejects.key}"
    body = _open_listed(lake, key)
    with body:
        text = b"".join(gunzip_verified(body, lake.uri(key), manifest.rejects.sha256)).decode(
            errors="replace"
        )
    rows = list(csv.DictReader(io.StringIO(text)))
    if len(rows) != manifest.rows_rejected or any(
        set(row) != {"line_number", "reason", "raw_line"} or not (row["line_number"] or "").isdigit()
        for row in rows
    ):
        raise BadInputError(
            f"{lake.uri(key)} does not hold the manifest's {manifest.rows_rejected} rejects "
            "(line_number, reason, raw_line); land the day again"
        )
    return [(int(row["line_number"]), row["raw_line"], row["reason"]) for row in rows]


def _open_listed(lake: Lake, key: str) -> BinaryIO:
    """An object the manifest lists; its absence is the lake's fault, said in one line."""
    try:
        return lake.open_read(key)
    except FileNotFoundError:
        raise BadInputError(
            f"{lake.uri(key)} is listed in the manifest but missing; land the day again"
        ) from None


class _Counting:
    """Counts the compressed bytes read from the lake."""

    def __init__(self, body: BinaryIO, result: LoadResult) -> None:
        self.body = body
        self.result = result

    def read(self, n: int) -> bytes:
        data = self.body.read(n)
        self.result.bytes_read += len(data)
        return data
