"""Load a landed day from the lake into the warehouse's raw schema (PostgreSQL).

The day's manifest says what to load. Each part streams from the lake object (local file or
S3 body) through a verified gunzip straight into ``COPY ... FROM STDIN``: no temporary copy, no
Python per row. The rows land in a fresh partition that replaces the day, with the rejects the
manifest lists and the audit row, in one transaction: a failed, killed or repeated load leaves
exactly one copy of the day, or the previous one.

The Redshift path (``loaders.redshift``) takes the same manifest and issues ``COPY ... FROM
's3://...'`` instead; ``load_day`` picks it when the warehouse is Redshift.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import logging
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from loaders import interactions, warehouse
from loaders.config import PostgresTarget
from loaders.errors import BadInputError, LoaderError
from loaders.interactions import validate_ds
from loaders.lake import Lake, day_prefix
from loaders.shop import SHOP_TABLES
from loaders.streams import ThreadedSink, gunzip_verified

log = logging.getLogger(__name__)


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


def raw_columns(source: str, table: str) -> list[tuple[str, str]]:
    """The columns (name, type) of a raw table, lineage columns excluded."""
    if source == "shop" and table in SHOP_TABLES:
        return list(SHOP_TABLES[table].columns)
    if source == interactions.SOURCE and table == interactions.TABLE:
        return [(c, "text") for c in interactions.COLUMNS]
    raise BadInputError(f"no raw table is defined for {source}/{table}")


def ensure_raw_table(
    conn: psycopg.Connection, schema: str, table: str, columns: list[tuple[str, str]]
) -> None:
    conn.execute(
        sql.SQL(
            """
            create table if not exists {table} (
                {columns},
                _ds date not null,
                _source_file text not null,
                _load_id bigint not null,
                _loaded_at timestamptz not null default now()
            ) partition by list (_ds)
            """
        ).format(
            table=sql.Identifier(schema, table),
            columns=sql.SQL(",\n").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in columns
            ),
        )
    )


def check_manifest(manifest: dict, source: str, table: str, ds: str, where: str) -> None:
    """Refuse a manifest that does not describe this day of this table, in a loadable form."""
    expected = [name for name, _ in raw_columns(source, table)]
    problems = []
    if manifest.get("table") != table or manifest.get("ds") != ds:
        problems.append(f"it describes {manifest.get('table')} {manifest.get('ds')}")
    if manifest.get("format") != "csv.gz":
        problems.append(f"format {manifest.get('format')!r} is not csv.gz")
    columns = [c.get("name") for c in manifest.get("columns", [])]
    if sorted(columns) != sorted(expected):
        problems.append(f"columns {columns} differ from {expected}")
    if not manifest.get("parts"):
        problems.append("it lists no parts")
    counts = [manifest.get(k) for k in ("rows_read", "rows_valid", "rows_rejected")]
    if any(not isinstance(v, int) for v in counts) or counts[0] != counts[1] + counts[2]:
        problems.append(f"its counts do not add up (read, valid, rejected = {counts})")
    if problems:
        raise BadInputError(f"{where}: unusable manifest ({'; '.join(problems)}); land the day again")


def load_day(
    lake: Lake, target: PostgresTarget, source: str, table: str, ds: str, *, raw_schema: str = "raw"
) -> LoadResult:
    """Load day ``ds`` of ``source``/``table`` from the lake into ``raw.<table>``."""
    validate_ds(ds)
    start = time.monotonic()
    started_at = dt.datetime.now(dt.UTC)
    prefix = day_prefix(source, table, ds)
    manifest = lake.read_manifest(prefix)
    check_manifest(manifest, source, table, ds, lake.uri(prefix))
    result = LoadResult(source=source, table=table, ds=ds)
    columns = [c["name"] for c in manifest["columns"]]
    source_file = lake.uri(prefix) + "/"

    with warehouse.connect(target) as conn:
        try:
            warehouse.ensure_raw_schema(conn, raw_schema)
            ensure_raw_table(conn, raw_schema, table, raw_columns(source, table))
            warehouse.lock_day(conn, table, ds)
            result.load_id = warehouse.begin_audit(conn, raw_schema)
            into = warehouse.create_day_partition(conn, raw_schema, table, ds)
            # FREEZE: the partition was created in this transaction, so its rows can be written
            # frozen (no hint-bit rewrite or vacuum of the whole day on its first read)
            statement = sql.SQL("copy {} ({}) from stdin (format csv, header true, freeze)").format(
                into, sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            for part in manifest["parts"]:
                key = f"{prefix}/{part['key']}"
                try:
                    body = lake.open_read(key)
                except FileNotFoundError:
                    raise BadInputError(
                        f"{lake.uri(key)} is listed in the manifest but missing; land the day again"
                    ) from None
                cursor = conn.cursor()
                # a thread of its own feeds the server while this one reads and decompresses
                with (
                    cursor.copy(statement) as copy,
                    ThreadedSink(copy.write, name="copy-feeder") as feeder,
                ):
                    for data in gunzip_verified(_Counting(body, result), lake.uri(key), part.get("sha256")):
                        feeder.write(data)
                if cursor.rowcount != part.get("rows"):
                    raise BadInputError(
                        f"{lake.uri(key)} holds {cursor.rowcount:,} rows, its manifest says {part.get('rows')}; "
                        "land the day again"
                    )
                result.rows_loaded += cursor.rowcount
            warehouse.swap_in_day_partition(conn, raw_schema, table, ds, source_file, result.load_id)
            result.rows_rejected = manifest["rows_rejected"]
            result.rows_read = result.rows_loaded + result.rows_rejected
            if result.rows_read != manifest["rows_read"]:
                raise BadInputError(
                    f"{lake.uri(prefix)}: loaded rows and rejects do not add up to the manifest's rows_read"
                )
            if manifest.get("rejects"):
                _load_rejects(conn, lake, prefix, manifest, raw_schema, table, ds, source_file, result)
            warehouse.write_audit(
                conn,
                raw_schema,
                result.load_id,
                warehouse.AuditRow(
                    source=source, table_name=table, ds=ds, source_file=source_file,
                    source_sha256=manifest.get("source_sha256"), rows_read=result.rows_read,
                    rows_loaded=result.rows_loaded, rows_rejected=result.rows_rejected,
                    bytes_read=result.bytes_read, seconds=time.monotonic() - start, started_at=started_at,
                ),
            )  # fmt: skip
            conn.commit()
        except psycopg.Error as err:
            with contextlib.suppress(psycopg.Error):  # a lost connection: the server rolled back
                conn.rollback()
            raise LoaderError(
                f"loading {lake.uri(prefix)} into {target.describe()} failed "
                f"({str(err).strip().splitlines()[0]}); nothing was changed"
            ) from err
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
            raise
    result.seconds = time.monotonic() - start
    log.info(
        "raw.%s %s: %s rows loaded, %s rejected (from the lake), %.1f MB in %.2fs",
        table, ds, f"{result.rows_loaded:,}", f"{result.rows_rejected:,}", result.bytes_read / 1e6, result.seconds,
    )  # fmt: skip
    return result


def _load_rejects(
    conn: psycopg.Connection,
    lake: Lake,
    prefix: str,
    manifest: dict,
    schema: str,
    table: str,
    ds: str,
    source_file: str,
    result: LoadResult,
) -> None:
    entry = manifest["rejects"]
    key = f"{prefix}/{entry['key']}"
    text = b"".join(gunzip_verified(lake.open_read(key), lake.uri(key), entry.get("sha256"))).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    if len(rows) != manifest["rows_rejected"]:
        raise BadInputError(
            f"{lake.uri(key)} lists {len(rows)} rejects, the manifest {manifest['rows_rejected']}"
        )
    rejects = sql.Identifier(schema, f"{table}_rejects")
    conn.execute(sql.SQL("delete from {} where _ds = %s").format(rejects), (ds,))
    with conn.cursor().copy(
        sql.SQL("copy {} (_ds, _source_file, _load_id, line_number, raw_line, reason) from stdin").format(
            rejects
        )
    ) as copy:
        for row in rows:
            copy.write_row(
                (ds, source_file, result.load_id, int(row["line_number"]), row["raw_line"], row["reason"])
            )


class _Counting:
    """Counts the compressed bytes read from the lake."""

    def __init__(self, body, result: LoadResult) -> None:
        self.body = body
        self.result = result

    def read(self, n: int) -> bytes:
        data = self.body.read(n)
        self.result.bytes_read += len(data)
        return data
