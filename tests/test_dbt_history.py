"""The same answers every way: days built one at a time, as one backfill, or from scratch.

Four days of data with re-delivered interactions (within a day and from the day before) and a
shop that moves on every day (new customers and orders, status changes, edits) are loaded into
two warehouses. One builds them the way the DAG does, one day at a time; the other builds them
as one backfill range; then each is rebuilt with ``--full-refresh`` and without days at all.
Every mart and report must hold exactly the same rows (a checksum of every row of every one).
Re-running days (the latest, or an earlier one out of order) must change nothing, and a day
reloaded with different content must give what a full rebuild of the same data gives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from loaders.catalog import SHOP_TABLES
from loaders.config import Settings
from loaders.interactions import ingest_interactions
from loaders.lake import Lake
from loaders.load import load_day
from loaders.sample_data import ShopScale, advance_shop, generate_shop, write_interactions_csv
from loaders.shop import extract_table
from tests.conftest import fresh_warehouse, run_dbt

pytestmark = pytest.mark.dbt

DAYS = ("2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20")
SCALE = ShopScale(customers=300, products=40, orders_per_day=30, days=10)
ROWS = 3_000
REDELIVERED = 60  # lines of a day delivered again the next day


@dataclasses.dataclass
class Warehouse:
    settings: Settings
    folder: Path
    files: dict[str, Path]


def land(wh: Warehouse, number: int, previous: list[str]) -> list[str]:
    """Day ``DAYS[number]``: the shop moves on, the CSV arrives, the loaders land both."""
    settings, ds = wh.settings, DAYS[number]
    lake = Lake.from_url(settings.lake_url)
    if number:
        advance_shop(settings.shop, ds, orders_per_day=SCALE.orders_per_day)
    path = write_interactions_csv(
        wh.folder / f"{ds}.csv", ds, rows=ROWS, customers=SCALE.customers, products=SCALE.products,
        redelivered=previous,
    ).path  # fmt: skip
    wh.files[ds] = path
    ingest_interactions(path, ds, lake=lake, warehouse_target=settings.warehouse)
    for table in SHOP_TABLES.values():
        extract_table(settings.shop, lake, table, ds, full=number == 0)
        load_day(lake, settings.warehouse, "shop", table.name, ds)
    lines = path.read_text().splitlines()[1:]
    return lines[:: len(lines) // REDELIVERED][:REDELIVERED]


def checksums(settings: Settings, *, lineage: bool = True) -> dict[str, tuple[str, int]]:
    """Per mart and report: an md5 of its rows (in a fixed order) and their count. Without
    ``lineage`` the bookkeeping columns (``_ds``, ``_first_ds``, ...) are left out."""
    found: dict[str, tuple[str, int]] = {}
    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        relations = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('marts', 'reports') order by 1, 2"
        ).fetchall()
        for schema, name in relations:
            columns = [
                c
                for (c,) in conn.execute(
                    "select column_name from information_schema.columns where table_schema = %s "
                    "and table_name = %s order by ordinal_position",
                    (schema, name),
                )
                if lineage or not c.startswith("_")
            ]
            row = ", ".join(f'"{c}"' for c in columns)
            digest, count = conn.execute(
                f"select md5(coalesce(string_agg(r::text, '|' order by r::text), '')), count(*) "
                f'from (select {row} from "{schema}"."{name}") as r'
            ).fetchone()
            found[f"{schema}.{name}"] = (digest, count)
    assert len(found) >= 10 and all(count > 0 for _, count in found.values()), found
    return found


@pytest.fixture(scope="module")
def warehouses(
    pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Warehouse, Warehouse]]:
    daily_folder, backfill_folder = tmp_path_factory.mktemp("daily"), tmp_path_factory.mktemp("backfill")
    with (
        fresh_warehouse(pg_settings, daily_folder) as daily_settings,
        fresh_warehouse(pg_settings, backfill_folder) as backfill_settings,
    ):
        daily = Warehouse(daily_settings, daily_folder, {})
        backfill = Warehouse(backfill_settings, backfill_folder, {})
        for wh in (daily, backfill):
            generate_shop(wh.settings.shop, DAYS[0], SCALE)
        yield daily, backfill


def test_one_day_at_a_time_a_backfill_and_a_full_refresh_give_identical_marts(warehouses) -> None:
    daily, backfill = warehouses
    previous: list[str] = []
    for number, ds in enumerate(DAYS):
        previous = land(daily, number, previous)
        run_dbt(daily.settings, daily.folder, "build", "--vars", f"{{ds: {ds}}}")
    one_at_a_time = checksums(daily.settings)

    previous = []
    for number in range(len(DAYS)):
        previous = land(backfill, number, previous)
    run_dbt(
        backfill.settings, backfill.folder, "build", "--vars", f"{{start_ds: {DAYS[0]}, end_ds: {DAYS[-1]}}}"
    )
    assert checksums(backfill.settings) == one_at_a_time

    run_dbt(backfill.settings, backfill.folder, "build", "--full-refresh")
    assert checksums(backfill.settings) == one_at_a_time
    run_dbt(backfill.settings, backfill.folder, "build")  # every day, incrementally
    assert checksums(backfill.settings) == one_at_a_time

    # the data had what the paths must agree on: re-deliveries across days, and new versions
    with psycopg.connect(daily.settings.warehouse.conninfo()) as conn:
        duplicates = conn.execute(
            "select count(*) from staging.stg_interactions__user_interaction_rejects "
            "where rejection_reason = 'duplicate interaction_id' and _ds > %s",
            (DAYS[0],),
        ).fetchone()[0]
        versions = conn.execute(
            "select count(*) from staging.base_shop__orders group by order_id having count(*) > 1 limit 1"
        ).fetchone()
    assert duplicates >= REDELIVERED and versions is not None


def test_running_days_again_changes_nothing(warehouses) -> None:
    daily, _ = warehouses
    before = checksums(daily.settings)
    run_dbt(daily.settings, daily.folder, "build", "--vars", f"{{ds: {DAYS[-1]}}}")
    assert checksums(daily.settings) == before
    # an earlier day again, out of order: the later days' state is settled again
    run_dbt(daily.settings, daily.folder, "build", "--vars", f"{{ds: {DAYS[1]}}}")
    assert checksums(daily.settings) == before
    run_dbt(daily.settings, daily.folder, "build", "--vars", f"{{start_ds: {DAYS[1]}, end_ds: {DAYS[2]}}}")
    assert checksums(daily.settings) == before


def test_the_table_of_staged_ids_emptied_by_a_crash_is_noticed_and_built_again(warehouses) -> None:
    """Re-deliveries are looked up in an unlogged table of every day's ids, which PostgreSQL
    empties after a crash: a run must not trust it empty (the latest day re-delivers ids of the
    day before), and builds it again."""
    daily, _ = warehouses
    before = checksums(daily.settings)
    keys = "staging.base_interactions__user_interactions__keys"
    with psycopg.connect(daily.settings.warehouse.conninfo()) as conn:
        assert conn.execute(
            f"select relpersistence from pg_class where oid = '{keys}'::regclass"
        ).fetchone() == ("u",)
        conn.execute(f"truncate {keys}")  # what crash recovery does to an unlogged table
    run_dbt(daily.settings, daily.folder, "build", "--vars", f"{{ds: {DAYS[-1]}}}")
    assert checksums(daily.settings) == before
    with psycopg.connect(daily.settings.warehouse.conninfo()) as conn:
        counts = conn.execute(
            f"select (select count(*) from {keys}), (select count(*) from {keys} where _ds = %s), "
            "(select count(*) from staging.stg_interactions__user_interactions), "
            "(select count(distinct interaction_id) from staging.stg_interactions__user_interactions)",
            (DAYS[0],),
        ).fetchone()
    assert counts[0] == counts[2] == counts[3] and counts[1] > 0


def test_a_day_reloaded_with_other_content_gives_what_a_rebuild_gives(warehouses) -> None:
    """The latest day delivered again, a third of its lines gone (pairs withdrawn) and a few
    added: the day's incremental build equals a full rebuild of the same raw data (lineage
    columns aside: the incremental state remembers which day withdrew a pair)."""
    daily, _ = warehouses
    ds = DAYS[-1]
    lines = daily.files[ds].read_text().splitlines()
    changed = daily.folder / f"{ds}-again.csv"
    kept = [line for number, line in enumerate(lines[1:]) if number % 3]
    extra = (
        write_interactions_csv(
            daily.folder / "extra.csv",
            ds,
            rows=50,
            customers=SCALE.customers,
            products=SCALE.products,
            seed=7,
        )
        .path.read_text()
        .splitlines()[1:]
    )
    changed.write_text("\n".join([lines[0], *kept, *extra]) + "\n")
    ingest_interactions(
        changed, ds, lake=Lake.from_url(daily.settings.lake_url), warehouse_target=daily.settings.warehouse
    )
    run_dbt(daily.settings, daily.folder, "build", "--vars", f"{{ds: {ds}}}")
    incremental = checksums(daily.settings, lineage=False)
    run_dbt(daily.settings, daily.folder, "build", "--full-refresh")
    assert checksums(daily.settings, lineage=False) == incremental
