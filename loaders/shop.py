"""Extracts of the shop's PostgreSQL database into the lake, one table and one day at a time.

What is extracted is declared once, in ``SHOP_TABLES``: the columns (and their types, which the
raw tables reuse) and how a day is chosen. A table with a ``changed_at`` column is extracted
incrementally: the rows changed during the day (``--full`` takes every row changed up to the
end of the day, for a first load). A table without one is a full snapshot every day.

Rows stream out of PostgreSQL with ``COPY (select ...) TO STDOUT`` in a read-only, repeatable-
read transaction, through gzip into ``raw/shop/<table>/ds=<day>/part-00000.csv.gz`` with its
``_manifest.json`` (rows, bytes, sha256, columns, window). No table is ever held in memory.

Why CSV+gzip rather than Parquet: PostgreSQL emits and ingests CSV natively, so extract and
load are pure byte streams with no per-row conversion in Python, and Redshift's
``COPY ... CSV GZIP`` accepts every safety option (``bench/loaders_bench.py`` measures both).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from psycopg import sql

from loaders import warehouse
from loaders.config import PostgresTarget
from loaders.errors import BadInputError
from loaders.interactions import validate_ds
from loaders.lake import MANIFEST, Lake, day_prefix
from loaders.sample_data import day_bounds
from loaders.streams import GzipPart

log = logging.getLogger(__name__)

SOURCE = "shop"
PROGRESS_EVERY_SECONDS = 2.0


@dataclass(frozen=True)
class ShopTable:
    name: str
    key: str
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type)
    changed_at: str | None = None  # None: a full snapshot every day

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def mode(self) -> str:
        return "incremental" if self.changed_at else "snapshot"


SHOP_TABLES: dict[str, ShopTable] = {
    t.name: t
    for t in (
        ShopTable(
            "customers",
            key="customer_id",
            columns=(
                ("customer_id", "bigint"), ("first_name", "text"), ("last_name", "text"),
                ("email", "text"), ("phone", "text"), ("address", "text"),
                ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
            ),
            changed_at="updated_at",
        ),
        ShopTable(
            "products",
            key="product_id",
            columns=(
                ("product_id", "bigint"), ("sku", "text"), ("name", "text"), ("category", "text"),
                ("price", "numeric(10,2)"), ("is_active", "boolean"),
                ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
            ),
        ),
        ShopTable(
            "orders",
            key="order_id",
            columns=(
                ("order_id", "bigint"), ("customer_id", "bigint"), ("status", "text"),
                ("quantity", "integer"), ("ordered_at", "timestamptz"), ("updated_at", "timestamptz"),
            ),
            changed_at="updated_at",
        ),
        ShopTable(
            "sales",
            key="sale_id",
            columns=(
                ("sale_id", "bigint"), ("order_id", "bigint"), ("product_id", "bigint"),
                ("quantity", "integer"), ("unit_price", "numeric(10,2)"), ("discount", "numeric(10,2)"),
                ("sold_at", "timestamptz"), ("updated_at", "timestamptz"),
            ),
            changed_at="updated_at",
        ),
    )
}  # fmt: skip


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


def table_named(name: str) -> ShopTable:
    try:
        return SHOP_TABLES[name]
    except KeyError:
        raise BadInputError(f"unknown shop table {name!r}; choose from {', '.join(SHOP_TABLES)}") from None


def extract_table(
    shop: PostgresTarget, lake: Lake, table: ShopTable, ds: str, *, full: bool = False
) -> ExtractResult:
    """Extract day ``ds`` of ``table`` from the shop database into the lake."""
    validate_ds(ds)
    start = time.monotonic()
    day_start, day_end = day_bounds(ds)
    where, params, window = sql.SQL(""), [], {}
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
        conn.execute("set transaction isolation level repeatable read, read only")
        conn.execute("set timezone = 'UTC'; set datestyle = 'ISO'")
        _check_source_columns(conn, table)
        query = sql.SQL(
            "copy (select {cols} from {table}{where} order by {key}) to stdout (format csv, header true)"
        ).format(
            cols=sql.SQL(", ").join(map(sql.Identifier, table.column_names)),
            table=sql.Identifier(table.name),
            where=where,
            key=sql.Identifier(table.key),
        )
        with lake.write_day(prefix) as day:
            part = GzipPart(day, "part-00000.csv.gz", level=1)
            try:
                cursor = conn.cursor()
                last_report = time.monotonic()
                with cursor.copy(query, params) as copy:
                    for chunk in copy:
                        part.write(bytes(chunk))
                        result.bytes += len(chunk)
                        now = time.monotonic()
                        if now - last_report >= PROGRESS_EVERY_SECONDS:
                            last_report = now
                            rate = result.bytes / 1e6 / (now - start)
                            log.info(
                                "shop.%s %s: %.0f MB so far (%.0f MB/s)",
                                table.name,
                                ds,
                                result.bytes / 1e6,
                                rate,
                            )
                result.rows = cursor.rowcount
                part_info = {**part.close(), "rows": result.rows}
            except BaseException:
                part.abort()
                raise
            day.write_json(
                MANIFEST,
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
    result.seconds = time.monotonic() - start
    result.lake_uri = lake.uri(prefix)
    log.info(
        "shop.%s %s (%s): %s rows, %.1f MB in %.2fs (%s rows/s)",
        table.name, ds, mode, f"{result.rows:,}", result.bytes / 1e6, result.seconds,
        f"{result.rows / result.seconds:,.0f}" if result.seconds else "-",
    )  # fmt: skip
    return result


def _check_source_columns(conn, table: ShopTable) -> None:
    found = [
        name
        for (name,) in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = current_schema() and table_name = %s order by ordinal_position",
            (table.name,),
        ).fetchall()
    ]
    if not found:
        raise BadInputError(
            f"the shop database has no table {table.name!r} (schema search path: "
            f"{conn.execute('show search_path').fetchone()[0]}); check SHOP_DBNAME"
        )
    missing = [c for c in table.column_names if c not in found]
    if missing:
        raise BadInputError(
            f"shop table {table.name} has no column {', '.join(missing)} (it has {', '.join(found)}); "
            "the source changed: adapt SHOP_TABLES in loaders/shop.py and the dbt sources"
        )
