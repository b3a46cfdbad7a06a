"""Load a landed day from S3 into Amazon Redshift's raw schema with ``COPY ... FROM 's3://...'``.

The same manifest as the PostgreSQL path drives it; only the statements differ. Redshift has
no list partitions, so a day is replaced inside one transaction: the parts are COPY'd into a
temporary staging table, the day's rows are deleted from ``raw.<table>`` and re-inserted with
their lineage columns, and the audit row is written. A failed or killed load rolls back.

``load_statements`` is pure (it builds the SQL), so it is tested exactly without a cluster;
``load_day_redshift`` runs it on any DB-API connection: inside Airflow the Amazon provider's
``RedshiftSQLHook(redshift_conn_id=...).get_conn()``, elsewhere ``redshift_connector``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from loaders.catalog import raw_columns
from loaders.days import day_prefix, validate_ds
from loaders.errors import LoaderError
from loaders.lake import Lake, S3Lake
from loaders.manifest import check_manifest
from loaders.results import LoadResult

log = logging.getLogger(__name__)

# Redshift's spellings of the PostgreSQL types the raw tables use
REDSHIFT_TYPES = {"text": "varchar(65535)", "timestamptz": "timestamptz", "bigint": "bigint", "integer": "integer",
                  "boolean": "boolean", "numeric(10,2)": "numeric(10,2)", "date": "date"}  # fmt: skip


@dataclass(frozen=True)
class RedshiftCopyOptions:
    iam_role: str
    region: str | None = None  # only when the bucket is in another region than the cluster

    def csv_gzip(self) -> str:
        """COPY options for our csv.gz parts: header skipped, ISO timestamps with offsets,
        empty fields as NULL, no error tolerated (MAXERROR 0: a bad row fails the load)."""
        options = [
            f"iam_role '{_literal(self.iam_role)}'",
            "format as csv",
            "gzip",
            "ignoreheader 1",
            "timeformat 'auto'",
            "dateformat 'auto'",
            "emptyasnull",
            "blanksasnull",
            "maxerror 0",
            "compupdate off",
            "statupdate off",
        ]
        if self.region:
            options.append(f"region '{_literal(self.region)}'")
        return " ".join(options)


def base_ddl(schema: str) -> list[str]:
    """The raw schema, the audit table and the interactions rejects table, on Redshift."""
    s = _ident(schema)
    return [
        f"create schema if not exists {s}",
        f"create table if not exists {s}.load_audit (load_id bigint not null, source varchar(64) not null, "
        "table_name varchar(128) not null, ds date not null, source_file varchar(1024) not null, "
        "source_sha256 varchar(64), rows_read bigint not null, rows_loaded bigint not null, "
        "rows_rejected bigint not null, bytes_read bigint not null, seconds numeric(12,3) not null, "
        "started_at timestamptz not null, finished_at timestamptz not null, loaded_by varchar(128) not null, "
        "lake_version varchar(64), primary key (load_id))",
        f"create table if not exists {s}.user_interactions_rejects (_ds date not null, "
        "_source_file varchar(1024) not null, _load_id bigint not null, line_number bigint not null, "
        "raw_line varchar(65535) not null, reason varchar(256) not null, "
        "_loaded_at timestamptz not null default getdate()) compound sortkey (_ds)",
    ]


def raw_table_ddl(schema: str, table: str, columns: list[tuple[str, str]]) -> str:
    cols = ",\n    ".join(f"{_ident(n)} {REDSHIFT_TYPES[t]}" for n, t in columns)
    return (
        f"create table if not exists {_ident(schema)}.{_ident(table)} (\n    {cols},\n"
        "    _ds date not null,\n    _source_file varchar(1024) not null,\n"
        "    _load_id bigint not null,\n    _loaded_at timestamptz not null default getdate()\n"
        ")\ndiststyle auto\ncompound sortkey (_ds)"
    )


def load_statements(
    lake: S3Lake,
    manifest: dict[str, Any],
    *,
    schema: str,
    source: str,
    table: str,
    ds: str,
    load_id: int,
    options: RedshiftCopyOptions,
    audit_seconds: float = 0.0,
) -> list[str]:
    """The statements that replace day ``ds`` of ``raw.<table>`` with the manifest's parts."""
    prefix = day_prefix(source, table, ds)
    columns = [(c["name"], c["type"]) for c in manifest["columns"]]
    names = ", ".join(_ident(n) for n, _ in columns)
    stage = _ident(f"{table}__stage_{ds.replace('-', '')}")
    target = f"{_ident(schema)}.{_ident(table)}"
    source_file = lake.uri(prefix) + "/"
    statements = [
        f"create temp table {stage} ({', '.join(f'{_ident(n)} {REDSHIFT_TYPES[t]}' for n, t in columns)})",
    ]
    fmt = manifest.get("format")
    for part in manifest["parts"]:
        location = _s3_location(lake, prefix, part["key"])
        if fmt == "csv.gz":
            statements.append(f"copy {stage} ({names}) from '{_literal(location)}' {options.csv_gzip()}")
        else:
            raise LoaderError(f"{lake.uri(prefix)}: cannot COPY format {fmt!r} into Redshift")
    statements += [
        f"delete from {target} where _ds = '{ds}'",
        f"insert into {target} ({names}, _ds, _source_file, _load_id, _loaded_at) "
        f"select {names}, '{ds}', '{_literal(source_file)}', {int(load_id)}, getdate() from {stage}",
        f"insert into {_ident(schema)}.load_audit (load_id, source, table_name, ds, source_file, source_sha256, "
        "rows_read, rows_loaded, rows_rejected, bytes_read, seconds, started_at, finished_at, loaded_by, lake_version) "
        f"select {int(load_id)}, '{_literal(source)}', '{_literal(table)}', '{ds}', '{_literal(source_file)}', "
        f"{_nullable(manifest.get('source_sha256'))}, {int(manifest['rows_read'])}, count(*), "
        f"{int(manifest['rows_rejected'])}, {sum(int(p.get('bytes', 0)) for p in manifest['parts'])}, "
        f"{audit_seconds:.3f}, getdate(), getdate(), current_user, {_nullable(manifest.get('version'))} from {stage}",
        f"drop table {stage}",
    ]
    rejects = manifest.get("rejects")
    if rejects:
        rejects_stage = _ident(f"{table}__rejects_stage_{ds.replace('-', '')}")
        location = _s3_location(lake, prefix, rejects["key"])
        statements += [
            f"create temp table {rejects_stage} (line_number bigint, reason varchar(256), raw_line varchar(65535))",
            f"copy {rejects_stage} (line_number, reason, raw_line) from '{_literal(location)}' {options.csv_gzip()}",
            f"delete from {_ident(schema)}.{_ident(table + '_rejects')} where _ds = '{ds}'",
            f"insert into {_ident(schema)}.{_ident(table + '_rejects')} "
            "(_ds, _source_file, _load_id, line_number, raw_line, reason, _loaded_at) "
            f"select '{ds}', '{_literal(source_file)}', {int(load_id)}, line_number, raw_line, reason, getdate() "
            f"from {rejects_stage}",
            f"drop table {rejects_stage}",
        ]
    return statements


def load_day_redshift(
    conn: Any,
    lake: Lake,
    source: str,
    table: str,
    ds: str,
    *,
    options: RedshiftCopyOptions,
    schema: str = "raw",
) -> LoadResult:
    """Run the load on a DB-API connection to Redshift, in one transaction."""
    validate_ds(ds)
    if not isinstance(lake, S3Lake):
        raise LoaderError("Redshift loads from S3: set LAKE_URL=s3://bucket/prefix")
    start = time.monotonic()
    prefix = day_prefix(source, table, ds)
    checked = check_manifest(lake.read_manifest(prefix), source, table, ds, lake.uri(prefix))
    manifest = checked.document
    cursor = conn.cursor()
    try:
        for statement in [*base_ddl(schema), raw_table_ddl(schema, table, raw_columns(source, table))]:
            cursor.execute(statement)
        # Redshift has no sequences: take the next load_id under a table lock
        cursor.execute(f"lock {_ident(schema)}.load_audit")
        cursor.execute(f"select coalesce(max(load_id), 0) + 1 from {_ident(schema)}.load_audit")
        load_id = int(cursor.fetchone()[0])
        for statement in load_statements(
            lake, manifest, schema=schema, source=source, table=table, ds=ds, load_id=load_id, options=options
        ):
            cursor.execute(statement)
        cursor.execute(f"select count(*) from {_ident(schema)}.{_ident(table)} where _ds = '{ds}'")
        loaded = int(cursor.fetchone()[0])
        if loaded != manifest["rows_valid"]:
            raise LoaderError(
                f"Redshift holds {loaded:,} rows for {ds}, the manifest {manifest['rows_valid']:,}"
            )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    if checked.version is not None:  # Redshift holds it now: the version it replaced can go
        lake.retire(prefix, checked.version)
    return LoadResult(
        source=source, table=table, ds=ds, rows_read=manifest["rows_read"], rows_loaded=loaded,
        rows_rejected=manifest["rows_rejected"], seconds=time.monotonic() - start, load_id=load_id,
    )  # fmt: skip


def _s3_location(lake: S3Lake, prefix: str, name: str) -> str:
    return f"s3://{lake.bucket}/{lake.key(prefix + '/' + name)}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "''")


def _nullable(text: str | None) -> str:
    return "null" if text is None else f"'{_literal(text)}'"
