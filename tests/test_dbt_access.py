"""Warehouse roles, tested by logging in as a member of each against the real PostgreSQL.

A small warehouse is built once for the module (`dbt build` of models and snapshots, then
`dbt run-operation create_access_roles`, as `make roles` does); each test logs in as a fresh
login that holds one role and checks what it may and may not do.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from loaders import local_stack
from loaders.catalog import SHOP_TABLES
from loaders.config import Settings
from loaders.interactions import ingest_interactions
from loaders.lake import Lake
from loaders.load import load_day
from loaders.sample_data import ShopScale, generate_shop, write_interactions_csv
from loaders.shop import extract_table
from tests.conftest import PROJECT_DIR, env_for, fresh_warehouse, run_dbt

pytestmark = pytest.mark.dbt

DS = "2026-11-20"
MASKED = ("marts.dim_customers", "marts.fct_orders", "marts.fct_interactions", "reports.rpt_daily_sales")
RESTRICTED = (
    "raw.customers",
    "staging.stg_shop__customers",
    "intermediate.int_customer_addresses_flattened",
    "pii.pii_customers",
    "pii.snp_shop__customers",
    "pii_keys.hash_key",  # the PII hash key: the transformer's alone
)
CLEAR_TEXT = ("pii.pii_customers", "pii.snp_shop__customers")

LoginAs = Callable[[str | None], AbstractContextManager[psycopg.Connection]]


def land(settings: Settings, folder: Path) -> None:
    generate_shop(settings.shop, DS, ShopScale(customers=60, products=10, orders_per_day=6, days=3))
    lake = Lake.from_url(settings.lake_url)
    for table in SHOP_TABLES:
        extract_table(settings.shop, lake, SHOP_TABLES[table], DS, full=True)
        load_day(lake, settings.warehouse, "shop", table, DS, raw_schema=settings.raw_schema)
    csv = write_interactions_csv(folder / "interactions.csv", DS, rows=500, customers=60, products=10).path
    ingest_interactions(csv, DS, lake=lake, warehouse_target=settings.warehouse)


@pytest.fixture(scope="module")
def warehouse(pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    folder = tmp_path_factory.mktemp("dbt_access")
    with fresh_warehouse(pg_settings, folder) as settings:
        land(settings, folder)
        run_dbt(settings, folder, "build", "--resource-type", "model", "--resource-type", "snapshot")
        run_dbt(settings, folder, "run-operation", "create_access_roles")
        yield settings


@pytest.fixture
def login_as(pg_settings: Settings, warehouse: Settings) -> Iterator[LoginAs]:
    """Log in to the warehouse as a new login that is a member of `role` (None: no role)."""
    admin = local_stack.superuser_conninfo(pg_settings)
    created: list[str] = []

    @contextmanager
    def connect(role: str | None) -> Iterator[psycopg.Connection]:
        name, password = f"t_{role or 'nobody'}_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("create role {} login password {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
            if role:
                conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(role), sql.Identifier(name)))
        created.append(name)
        target = warehouse.warehouse
        conninfo = psycopg.conninfo.make_conninfo(
            host=target.host, port=str(target.port), dbname=target.dbname, user=name, password=password
        )
        with psycopg.connect(conninfo, autocommit=True) as conn:
            yield conn

    yield connect
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))


def can_select(conn: psycopg.Connection, relation: str) -> bool:
    try:
        conn.execute(f"select count(*) from {relation}").fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def can_run(conn: psycopg.Connection, statement: str) -> bool:
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def test_analysts_read_marts_and_reports_and_nothing_else(login_as: LoginAs) -> None:
    with login_as("shop_analyst") as conn:
        assert all(can_select(conn, r) for r in MASKED)
        assert not any(can_select(conn, r) for r in RESTRICTED)
        assert not can_run(conn, "create table marts.scratch (x int)")
        assert not can_run(conn, "create temporary table scratch (x int)")


def test_pii_readers_read_clear_text_and_what_analysts_read(login_as: LoginAs) -> None:
    with login_as("shop_pii_reader") as conn:
        assert all(can_select(conn, r) for r in (*CLEAR_TEXT, *MASKED))
        assert conn.execute("select count(*) from pii.pii_customers where email like '%@%'").fetchone()[0] > 0
        assert not any(
            can_select(conn, r) for r in ("raw.customers", "staging.stg_shop__customers", "pii_keys.hash_key")
        )


def test_the_loader_writes_raw_and_nothing_else(login_as: LoginAs) -> None:
    with login_as("shop_loader") as conn:
        assert can_run(
            conn,
            "insert into raw.customers (customer_id, email, updated_at, _ds, _source_file, _load_id)"
            f" values (999999, 'x@example.com', now(), '{DS}', 'test', 1)",
        )
        assert can_run(conn, "delete from raw.orders")
        assert can_select(conn, "raw.load_audit")
        assert not any(can_select(conn, r) for r in (*MASKED, *RESTRICTED[1:]))
        assert not can_run(conn, "create table staging.scratch (x int)")


def test_the_transformer_reads_raw_and_builds_in_the_dbt_schemas(login_as: LoginAs) -> None:
    with login_as("shop_transformer") as conn:
        assert can_select(conn, "raw.customers") and can_select(conn, "raw.user_interactions")
        for schema in ("staging", "intermediate", "marts", "reports", "pii"):
            assert can_run(conn, f"create table {schema}.scratch (x int)"), schema
        # it reads the PII hash key the models hash with, and cannot change it
        assert can_select(conn, "pii_keys.hash_key")
        assert not can_run(conn, "delete from pii_keys.hash_key")
        assert not can_run(conn, "create table pii_keys.scratch (x int)")
        assert not can_run(
            conn, f"insert into raw.orders (order_id, _ds, _source_file, _load_id) values (1, '{DS}', 't', 1)"
        )


def test_a_login_without_a_role_cannot_even_connect(login_as: LoginAs) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"), login_as(None):
        pass


def create_roles(settings: Settings, folder: Path, roles: dict[str, str]) -> subprocess.Popen[str]:
    """Start `dbt run-operation create_access_roles` for `settings`, with these role names."""
    command = [
        str(Path(sys.executable).parent / "dbt"), "--no-use-colors", "run-operation", "create_access_roles",
        "--vars", json.dumps(roles),
        "--project-dir", str(PROJECT_DIR / "dbt_project"), "--profiles-dir", str(PROJECT_DIR / "dbt_project"),
        "--target-path", str(folder / "target"), "--log-path", str(folder / "logs"),
    ]  # fmt: skip
    return subprocess.Popen(
        command, env=env_for(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_creating_the_roles_is_safe_for_several_databases_at_once(
    pg_settings: Settings, tmp_path: Path
) -> None:
    """Roles are cluster-wide: two databases on one server create the same new roles at the same
    moment, and both succeed; creating them again changes nothing."""
    token = uuid.uuid4().hex[:6]
    roles = {
        f"{kind}_role": f"t_{kind}_{token}" for kind in ("loader", "transformer", "analyst", "pii_reader")
    }
    admin = local_stack.superuser_conninfo(pg_settings)
    try:
        with (
            fresh_warehouse(pg_settings, tmp_path / "one") as one,
            fresh_warehouse(pg_settings, tmp_path / "two") as two,
        ):
            runs = [create_roles(s, tmp_path / name, roles) for name, s in (("one", one), ("two", two))]
            outputs = [run.communicate(timeout=300)[0] for run in runs]
            assert [run.returncode for run in runs] == [0, 0], "\n".join(o[-2000:] for o in outputs)
            again = create_roles(one, tmp_path / "one", roles)
            assert again.wait(timeout=300) == 0, again.communicate()[0][-2000:]
        with psycopg.connect(admin) as conn:
            found = conn.execute(
                "select rolname from pg_roles where rolname = any(%s)", (list(roles.values()),)
            )
            assert sorted(r[0] for r in found) == sorted(roles.values())
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for role in roles.values():
                conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))
