"""A short account of a day after a run: rows per layer, rejects and why, where things are."""

from __future__ import annotations

from typing import Any, TypedDict

import psycopg
from psycopg import sql

from loaders import warehouse
from loaders.config import Settings, psql_binary
from loaders.days import day_prefix
from loaders.errors import LoaderError

LAYERS = (
    ("raw.customers", "raw.customers", "_ds"),
    ("raw.products", "raw.products", "_ds"),
    ("raw.orders", "raw.orders", "_ds"),
    ("raw.sales", "raw.sales", "_ds"),
    ("raw.user_interactions", "raw.user_interactions", "_ds"),
    ("raw rejects (loader)", "raw.user_interactions_rejects", "_ds"),
    ("staging", "staging.stg_interactions__user_interactions", "_ds"),
    ("staging rejects (dbt)", "staging.stg_interactions__user_interaction_rejects", "_ds"),
    ("marts.fct_interactions", "marts.fct_interactions", "_ds"),
    ("marts.fct_user_product_interactions", "marts.fct_user_product_interactions", None),
)


class DayFacts(TypedDict):
    counts: dict[str, int | None]  # layer label -> rows (None: not built)
    reasons: dict[str, list[tuple[str, int]]]  # who rejected -> (reason, rows), most first
    audit: tuple[Any, ...] | None  # the day's last interactions load: read, loaded, rejected, seconds


def collect(conn: psycopg.Connection, ds: str) -> DayFacts:
    """Counts for day ``ds`` (tables without a day column: all rows). Missing tables give None."""
    counts: dict[str, int | None] = {}
    for label, table, day_column in LAYERS:
        where = f" where {day_column} = %s" if day_column else ""
        try:
            with conn.transaction():
                row = conn.execute(f"select count(*) from {table}{where}", (ds,) if where else ()).fetchone()
            counts[label] = int(row[0]) if row else 0
        except psycopg.errors.UndefinedTable:
            counts[label] = None
    reasons: dict[str, list[tuple[str, int]]] = {}
    for label, query in (
        (
            "the loader (structure)",
            "select regexp_replace(split_part(reason, ':', 1), ' at byte [0-9]+$', ''), count(*) "
            "from raw.user_interactions_rejects "
            "where _ds = %s group by 1 order by 2 desc, 1",
        ),
        (
            "dbt staging (values)",
            "select rejection_reason, count(*) from staging.stg_interactions__user_interaction_rejects "
            "where _ds = %s group by 1 order by 2 desc, 1",
        ),
    ):
        try:
            with conn.transaction():
                reasons[label] = [(r, int(n)) for r, n in conn.execute(query, (ds,)).fetchall()]
        except psycopg.errors.UndefinedTable:
            reasons[label] = []
    audit = None
    try:
        with conn.transaction():
            audit = conn.execute(
                "select rows_read, rows_loaded, rows_rejected, seconds from raw.load_audit "
                "where table_name = 'user_interactions' and ds = %s order by load_id desc limit 1",
                (ds,),
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        pass
    return {"counts": counts, "reasons": reasons, "audit": audit}


def print_summary(settings: Settings, ds: str) -> None:
    with warehouse.connect(settings.warehouse) as conn:
        try:
            facts = collect(conn, ds)
        except psycopg.errors.InsufficientPrivilege as err:
            raise _no_access(settings, err) from None
    counts, reasons = facts["counts"], facts["reasons"]
    print(f"\n== {ds}: rows per layer ({settings.warehouse.describe()})")
    if facts["audit"]:
        read, loaded, rejected, seconds = facts["audit"]
        print(
            f"  interactions CSV lines read        {read:>10,}  (= {loaded:,} loaded + {rejected:,} rejected, {seconds}s)"
        )
    for label, _table, _day in LAYERS:
        value = counts[label]
        print(f"  {label:<36}{'(not built)' if value is None else f'{value:>10,}'}")
    for who, rows in reasons.items():
        if rows:
            text = ", ".join(f"{reason} {n:,}" for reason, n in rows)
            print(f"  rejected by {who}: {text}")
    lake_day = settings.lake_url.rstrip("/") + "/" + day_prefix("interactions", "user_interactions", ds)
    docs = settings.lake_url.rstrip("/") + "/docs/index.html"
    psql = psql_binary()
    print("\n== where things are")
    print(
        f"  lake       {lake_day}/  (_manifest.json names the published version: part-*-<version>.csv.gz, rejects-<version>.csv.gz)"
    )
    print(f"  dbt docs   {docs}  (published by the DAG's dbt_docs task)")
    print(
        f"  warehouse  {psql} '{settings.warehouse.url(with_password=False)}'  (password: WAREHOUSE_PASSWORD)"
    )
    print(
        "             e.g. select * from marts.fct_user_product_interactions order by interaction_count desc limit 10;"
    )
    print(
        "  dbt        source .venv/bin/activate && dbt build --project-dir dbt_project --profiles-dir dbt_project"
    )


def print_status(
    settings: Settings, *, ds: str | None = None, table: str | None = None, limit: int = 30
) -> None:
    """The latest loads from raw.load_audit, one line each."""
    where, params = [], []
    if ds:
        where.append("ds = %s")
        params.append(ds)
    if table:
        where.append("table_name = %s")
        params.append(table)
    query = sql.SQL(
        "select ds::text, source, table_name, rows_read, rows_loaded, rows_rejected, "
        "round(bytes_read / 1e6, 1), seconds, to_char(finished_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'), load_id "
        "from {audit} {where} order by load_id desc limit %s"
    ).format(
        audit=sql.Identifier(settings.raw_schema, "load_audit"),
        where=sql.SQL("where " + " and ".join(where) if where else ""),
    )
    with warehouse.connect(settings.warehouse) as conn:
        try:
            rows = conn.execute(query, (*params, limit)).fetchall()
        except psycopg.errors.UndefinedTable:
            rows = []
        except psycopg.errors.InsufficientPrivilege as err:
            raise _no_access(settings, err) from None
    if not rows:
        print(
            "no loads recorded yet"
            + (" for that filter" if where else "; run `make run` or `python -m loaders interactions`")
        )
        return
    header = (
        "day",
        "source",
        "table",
        "read",
        "loaded",
        "rejected",
        "MB",
        "seconds",
        "finished (UTC)",
        "load_id",
    )
    print("{:<10}  {:<12}  {:<18}  {:>10}  {:>10}  {:>8}  {:>7}  {:>7}  {:<19}  {:>7}".format(*header))
    for row in rows:
        print("{:<10}  {:<12}  {:<18}  {:>10,}  {:>10,}  {:>8,}  {:>7}  {:>7}  {:<19}  {:>7}".format(*row))


def _no_access(settings: Settings, err: psycopg.Error) -> LoaderError:
    first = str(err).strip().splitlines()[0]
    return LoaderError(
        f"the login {settings.warehouse.user} may not read the load audit and raw tables ({first}); "
        "use the loader's login (WAREHOUSE_USER) or grant it the role shop_transformer"
    )
