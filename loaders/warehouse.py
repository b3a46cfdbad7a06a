"""The warehouse's raw schema on PostgreSQL: tables, the day-partition swap, the load audit."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from loaders.catalog import INTERACTIONS, RawTable
from loaders.config import PostgresTarget
from loaders.errors import BadInputError, UnreachableError

log = logging.getLogger(__name__)

# raw tables carry _ds (the partition key, stored in each row) and the lineage every row of a
# load shares, kept once per day partition (see swap_in_day_partition)
SHARED_LINEAGE_COLUMNS = ("_source_file", "_load_id", "_loaded_at")

RAW_DDL = """
create schema if not exists {schema};

create table if not exists {schema}.load_audit (
    load_id        bigint generated always as identity primary key,
    source         text not null,
    table_name     text not null,
    ds             date not null,
    source_file    text not null,
    source_sha256  text,
    rows_read      bigint not null,
    rows_loaded    bigint not null,
    rows_rejected  bigint not null,
    bytes_read     bigint not null,
    seconds        numeric(12, 3) not null,
    started_at     timestamptz not null,
    finished_at    timestamptz not null default clock_timestamp(),
    loaded_by      text not null default current_user,
    constraint every_row_accounted_for check (rows_read = rows_loaded + rows_rejected)
);
create index if not exists load_audit_table_ds on {schema}.load_audit (table_name, ds);
-- the lake version (loaders/lake.py) the load put in raw: how lake and raw are kept in step
alter table {schema}.load_audit add column if not exists lake_version text;

create table if not exists {schema}.user_interactions_rejects (
    _ds           date not null,
    _source_file  text not null,
    _load_id      bigint not null,
    line_number   bigint not null,
    raw_line      text not null,
    reason        text not null,
    _loaded_at    timestamptz not null default now()
);
create index if not exists user_interactions_rejects_ds on {schema}.user_interactions_rejects (_ds);
"""


@dataclass(frozen=True)
class AuditRow:
    source: str
    table_name: str
    ds: str
    source_file: str
    source_sha256: str | None
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    bytes_read: int
    seconds: float
    started_at: dt.datetime
    lake_version: str | None = None


def connect(target: PostgresTarget, what: str = "warehouse") -> psycopg.Connection:
    try:
        return psycopg.connect(target.conninfo())
    except psycopg.OperationalError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnreachableError(
            f"cannot reach the {what} database at {target.describe()} ({first}); start it with "
            f"`make up` or check the {what.upper()}_* environment variables"
        ) from None


def raw_table_ddl(schema: str, table: RawTable) -> sql.Composed:
    """``raw.<table>``: the catalog's columns and the lineage, one list partition per day."""
    return sql.SQL(
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
        table=sql.Identifier(schema, table.name),
        columns=sql.SQL(",\n").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in table.columns
        ),
    )


def ensure_raw_schema(conn: psycopg.Connection, schema: str = "raw", table: RawTable | None = None) -> None:
    """Create the raw schema, its shared tables and ``table`` if missing, in
    a short transaction of its own: a load then holds only its own (table, day) lock, so loads
    of different tables run side by side. When everything exists (every load but the first) it
    only reads the catalog: DDL, even ``if not exists``, would lock tables other loads write."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("ensure_raw_schema must run before the load's transaction starts")
    tables = [INTERACTIONS, *([table] if table and table != INTERACTIONS else [])]
    shared = ["load_audit", "user_interactions_rejects"]
    with conn.transaction():
        if not _missing_raw_tables(conn, schema, [*shared, *(t.name for t in tables)]):
            return
        # serialise concurrent first runs: "create ... if not exists" is not race-free on its own
        conn.execute("select pg_advisory_xact_lock(hashtext('loaders.ensure_raw_schema'))")
        # look again (another load may have made them meanwhile), and run only the DDL that is
        # needed: the shared DDL alters load_audit, which loads of other tables are writing
        missing = _missing_raw_tables(conn, schema, [*shared, *(t.name for t in tables)])
        if missing & set(shared):
            conn.execute(sql.SQL(RAW_DDL).format(schema=sql.Identifier(schema)))
        for raw in tables:
            if raw.name in missing:
                conn.execute(raw_table_ddl(schema, raw))


def _missing_raw_tables(conn: psycopg.Connection, schema: str, tables: list[str]) -> set[str]:
    """Which of ``tables`` the raw schema lacks (``load_audit`` counts as missing without its
    ``lake_version`` column)."""
    rows = conn.execute(
        """
        select c.relname
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %(schema)s and c.relname = any(%(tables)s::text[])
          and (c.relname <> 'load_audit' or exists (
              select 1 from pg_attribute a
              where a.attrelid = c.oid and a.attname = 'lake_version' and not a.attisdropped))
        """,
        {"schema": schema, "tables": tables},
    ).fetchall()
    return set(tables) - {name for (name,) in rows}


def raw_version(conn: psycopg.Connection, schema: str, table: str, ds: str) -> str | None:
    """The lake version raw holds for a day: that of its last committed load (None: none, or a
    load from before versions)."""
    row = conn.execute(
        sql.SQL(
            "select lake_version from {}.load_audit where table_name = %s and ds = %s order by load_id desc limit 1"
        ).format(sql.Identifier(schema)),
        (table, ds),
    ).fetchone()
    return row[0] if row else None


def lock_day(conn: psycopg.Connection, table: str, ds: str) -> None:
    """One load of a (table, day) at a time; released at commit or rollback."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"load:{table}:{ds}",))


def begin_audit(conn: psycopg.Connection, schema: str) -> int:
    """Reserve a load_id for this load (the audit row itself is written at the end)."""
    row = conn.execute(
        sql.SQL("select nextval(pg_get_serial_sequence({}, 'load_id'))").format(
            sql.Literal(f"{schema}.load_audit")
        )
    ).fetchone()
    assert row is not None
    return int(row[0])


def write_audit(conn: psycopg.Connection, schema: str, load_id: int, audit: AuditRow) -> None:
    conn.execute(
        sql.SQL(
            """
            insert into {}.load_audit (
                load_id, source, table_name, ds, source_file, source_sha256,
                rows_read, rows_loaded, rows_rejected, bytes_read, seconds, started_at, lake_version
            ) overriding system value
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """
        ).format(sql.Identifier(schema)),
        (
            load_id, audit.source, audit.table_name, audit.ds, audit.source_file,
            audit.source_sha256, audit.rows_read, audit.rows_loaded, audit.rows_rejected,
            audit.bytes_read, round(audit.seconds, 3), audit.started_at, audit.lake_version,
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class DayReplacement:
    """A (table, day) of raw being replaced, inside the caller's transaction, whose commit is
    the load's commit point: ``begin_day_replacement`` takes the day's lock, reserves the load
    id and creates the empty stand-in partition the rows are COPY'd into (``target``);
    ``finish`` puts it in place of the day's partition, replaces the day's quarantined lines and
    writes the audit row. Every load of raw (the one-pass ingest, the load from the lake) goes
    through it, so a day is always replaced the same way: all of it, or none of it."""

    conn: psycopg.Connection
    schema: str
    table: str
    ds: str
    load_id: int
    target: sql.Identifier

    def finish(self, audit: AuditRow, rejects: Iterable[tuple[int, str, str]]) -> None:
        """The stand-in becomes the day's partition; ``rejects`` (line number, raw text, reason)
        replace the day's quarantined lines; ``audit`` is the load's row in load_audit."""
        if (audit.table_name, audit.ds) != (self.table, self.ds):
            raise ValueError(
                f"the audit of {audit.table_name} {audit.ds} cannot finish {self.table} {self.ds}"
            )
        swap_in_day_partition(self.conn, self.schema, self.table, self.ds, audit.source_file, self.load_id)
        replace_rejects(self.conn, self.schema, self.table, self.ds, audit.source_file, self.load_id, rejects)
        write_audit(self.conn, self.schema, self.load_id, audit)


def begin_day_replacement(conn: psycopg.Connection, schema: str, table: str, ds: str) -> DayReplacement:
    """Start replacing day ``ds`` of ``schema.table`` (see ``DayReplacement``)."""
    lock_day(conn, table, ds)  # held until the load commits or rolls back (taking it twice is fine)
    load_id = begin_audit(conn, schema)
    target = create_day_partition(conn, schema, table, ds)
    return DayReplacement(conn, schema, table, ds, load_id, target)


def partition_name(table: str, ds: str) -> str:
    return f"{table}__{ds.replace('-', '')}"


def create_day_partition(conn: psycopg.Connection, schema: str, table: str, ds: str) -> sql.Identifier:
    """Create an empty stand-in for the day's partition: the parent's data columns and ``_ds``
    (which rows COPY'd into it take from its default). The other lineage columns are added by
    ``swap_in_day_partition`` once the rows are in. Returns the qualified name to COPY into."""
    new = sql.Identifier(schema, partition_name(table, ds) + "__loading")
    parent = sql.Identifier(schema, table)
    columns = conn.execute(
        """
        select quote_ident(attname) || ' ' || format_type(atttypid, atttypmod)
        from pg_attribute
        where attrelid = %s::regclass and attnum > 0 and not attisdropped and not (attname = any(%s))
        order by attnum
        """,
        (parent.as_string(conn), list(SHARED_LINEAGE_COLUMNS)),
    ).fetchall()
    conn.execute(sql.SQL("drop table if exists {}").format(new))
    conn.execute(
        sql.SQL(
            """
            create table {new} ({columns}, constraint {check} check (_ds = {ds}));
            alter table {new} alter column _ds set not null, alter column _ds set default {ds};
            """
        ).format(
            new=new,
            columns=sql.SQL(", ").join(sql.SQL(column) for (column,) in columns),
            ds=sql.Literal(ds),
            check=sql.Identifier(f"{partition_name(table, ds)}_ds"),
        )
    )
    return new


def swap_in_day_partition(
    conn: psycopg.Connection, schema: str, table: str, ds: str, source_file: str, load_id: int
) -> None:
    """Replace the day's partition by the freshly loaded one, inside the load's transaction.

    The lineage columns every row shares (source file, load id, load time) are added now, as
    columns with a constant default: PostgreSQL stores such a value once, in the catalog, and
    every existing row reads it (no rewrite). The day's rows are a third smaller on disk, and
    COPY and the commit are faster for it; to a reader they are ordinary columns."""
    final = partition_name(table, ds)
    loading = sql.Identifier(schema, final + "__loading")
    conn.execute(
        sql.SQL(
            """
            alter table {loading}
                add column _source_file text not null default {source_file},
                add column _load_id bigint not null default {load_id},
                add column _loaded_at timestamptz not null default now();
            alter table {loading}
                alter column _ds drop default,
                alter column _source_file drop default,
                alter column _load_id drop default,
                alter column _loaded_at drop default;
            drop table if exists {final};
            alter table {loading} rename to {final_name};
            alter table {parent} attach partition {final} for values in ({ds});
            """
        ).format(
            loading=loading,
            source_file=sql.Literal(source_file),
            load_id=sql.Literal(load_id),
            final=sql.Identifier(schema, final),
            final_name=sql.Identifier(final),
            parent=sql.Identifier(schema, table),
            ds=sql.Literal(ds),
        )
    )


def replace_rejects(
    conn: psycopg.Connection,
    schema: str,
    table: str,
    ds: str,
    source_file: str,
    load_id: int,
    rejects: Iterable[tuple[int, str, str]],
) -> None:
    """Replace the day's quarantined lines of ``raw.<table>_rejects`` by ``rejects`` (line
    number, raw text, reason), inside the load's transaction. A table without a rejects table
    (the shop extracts) is left alone."""
    name = sql.Identifier(schema, f"{table}_rejects")
    exists = conn.execute("select to_regclass(%s) is not null", (name.as_string(conn),)).fetchone()
    if not (exists and exists[0]):
        if any(True for _ in rejects):
            raise BadInputError(
                f"{schema}.{table} keeps no quarantined lines, yet this load has some; land the day again"
            )
        return
    conn.execute(sql.SQL("delete from {} where _ds = %s").format(name), (ds,))
    with conn.cursor().copy(
        sql.SQL("copy {} (_ds, _source_file, _load_id, line_number, raw_line, reason) from stdin").format(
            name
        )
    ) as copy:
        for line_number, raw_line, reason in rejects:
            copy.write_row((ds, source_file, load_id, line_number, raw_line, reason))
