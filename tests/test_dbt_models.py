"""dbt on generated data: every figure checked against an independent count from the CSV."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from loaders.catalog import SHOP_TABLES
from loaders.config import Settings
from loaders.interactions import ingest_interactions
from loaders.lake import Lake
from loaders.load import load_day
from loaders.sample_data import ShopScale, generate_shop, write_interactions_csv
from loaders.shop import extract_table
from tests.conftest import fresh_warehouse, run_dbt
from tests.reference import Expected, expected_from_csv

pytestmark = pytest.mark.dbt

DAYS = ("2026-11-19", "2026-11-20")


@pytest.fixture(scope="module")
def built(
    pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Expected, Path]]:
    """Two days loaded and `dbt build` run once for the module; with what they must hold."""
    folder = tmp_path_factory.mktemp("dbt")
    with fresh_warehouse(pg_settings, folder) as settings:
        # the project also models the shop extracts: land a small shop, as its first full extract
        lake = Lake.from_url(settings.lake_url)
        generate_shop(
            settings.shop, DAYS[-1], ShopScale(customers=2_000, products=200, orders_per_day=20, days=3)
        )
        for table in SHOP_TABLES.values():
            extract_table(settings.shop, lake, table, DAYS[-1], full=True)
            load_day(lake, settings.warehouse, "shop", table.name, DAYS[-1])
        combined = folder / "both_days.csv"
        lines: list[str] = []
        for ds in DAYS:
            path = write_interactions_csv(folder / f"{ds}.csv", ds, rows=15_000).path
            ingest_interactions(
                path, ds, lake=Lake.from_url(settings.lake_url), warehouse_target=settings.warehouse
            )
            text = path.read_text().splitlines()
            lines.extend(text if not lines else text[1:])
        combined.write_text("\n".join(lines) + "\n")
        run_dbt(settings, folder, "build")
        yield settings, expected_from_csv(combined), folder


def query(settings: Settings, statement: str) -> list[tuple]:
    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        return conn.execute(statement).fetchall()


def test_staging_keeps_exactly_the_clean_first_deliveries(built) -> None:
    settings, expected, _ = built
    rows = query(
        settings,
        "select interaction_id, user_id, product_id, action from staging.stg_interactions__user_interactions",
    )
    assert {iid: (user, product, action) for iid, user, product, action in rows} == expected.clean
    assert len(rows) == len(expected.clean)


def test_every_excluded_row_is_visible_with_its_reason(built) -> None:
    settings, expected, _ = built
    rows = query(
        settings,
        "select rejection_reason, count(*) from staging.stg_interactions__user_interaction_rejects group by 1",
    )
    assert dict(rows) == dict(expected.value_rejects)
    raw = query(settings, "select count(*) from raw.user_interactions")[0][0]
    assert raw == len(expected.clean) + sum(expected.value_rejects.values())


def test_pair_totals_match_an_independent_count(built) -> None:
    settings, expected, _ = built
    rows = query(
        settings, "select user_id, product_id, interaction_count from marts.fct_user_product_interactions"
    )
    assert {(u, p): n for u, p, n in rows} == dict(expected.pair_counts)


def test_each_interaction_carries_its_pairs_count_within_its_days_delivery(built) -> None:
    """interaction_count keeps the first version's meaning: the number of clean interactions of
    the row's (user, product) in the same day's delivery, which no later day changes."""
    settings, expected, folder = built
    rows = query(
        settings,
        "select interaction_id, user_id, product_id, interaction_count, _ds::text from marts.fct_interactions",
    )
    assert len(rows) == len(expected.clean)
    per_day = {ds: expected_from_csv(folder / f"{ds}.csv").pair_counts for ds in DAYS}
    assert all(n == per_day[ds][(u, p)] for _, u, p, n, ds in rows)
    assert max(n for _, _, _, n, _ in rows) > 1  # the data has repeat pairs, so the check has teeth
    # a pair seen on both days counts each day apart: the day's count is below the all-days total
    assert any(n < expected.pair_counts[(u, p)] for _, u, p, n, _ in rows)


def test_interaction_data_is_the_first_versions_table_by_its_name(built) -> None:
    settings, expected, folder = built
    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'interaction_data' order by ordinal_position"
            )
        ]
        assert columns == [
            "interaction_id",
            "user_id",
            "product_id",
            "action",
            "timestamp",
            "interaction_count",
        ]
        rows = conn.execute(
            "select interaction_id, user_id, product_id, action, interaction_count from marts.interaction_data"
        ).fetchall()
        per_day = {ds: expected_from_csv(folder / f"{ds}.csv") for ds in DAYS}
        day_of = {iid: ds for ds, exp in per_day.items() for iid in exp.clean}
        assert {r[0]: (r[1], r[2], r[3]) for r in rows} == expected.clean
        assert all(r[4] == per_day[day_of[r[0]]].pair_counts[(r[1], r[2])] for r in rows)
        # its retrieval queries (analyses/interaction_data_*.sql) read through indexes
        user_id, product_id = rows[0][1], rows[0][2]
        for query_text in (
            f"select * from marts.interaction_data where user_id = {user_id}",
            f"select * from marts.interaction_data where user_id = {user_id} and product_id = {product_id}",
            f"select * from marts.interaction_data where interaction_id = {rows[0][0]}",
        ):
            plan = "\n".join(r[0] for r in conn.execute("explain " + query_text))
            assert "Index" in plan and "Seq Scan" not in plan, plan


def test_per_action_counts_add_up(built) -> None:
    settings, expected, _ = built
    rows = query(
        settings,
        "select sum(view_count), sum(click_count), sum(add_to_cart_count), sum(purchase_count), "
        "sum(other_action_count), sum(interaction_count) from marts.fct_user_product_interactions",
    )
    views, clicks, carts, purchases, other, total = rows[0]
    actions = [a for _, _, a in expected.clean.values()]
    assert (views, clicks, carts, purchases) == tuple(
        actions.count(a) for a in ("view", "click", "add_to_cart", "purchase")
    )
    assert other == actions.count("unknown")
    assert total == len(actions)


def test_the_processed_day_check_fails_for_a_day_that_was_never_loaded(built) -> None:
    settings, _, folder = built
    ok = run_dbt(
        settings,
        folder,
        "test",
        "--select",
        "assert_processed_day_was_loaded",
        "--vars",
        "{ds: 2026-11-20}",
        check=False,
    )
    assert ok.returncode == 0, ok.stdout[-2000:]
    missing = run_dbt(
        settings,
        folder,
        "test",
        "--select",
        "assert_processed_day_was_loaded",
        "--vars",
        "{ds: 2026-01-01}",
        check=False,
    )
    assert missing.returncode != 0
    assert "FAIL 1 assert_processed_day_was_loaded" in missing.stdout


def test_a_rebuild_after_reloading_a_day_gives_the_same_marts(built) -> None:
    settings, _, folder = built
    before = query(settings, "select * from marts.fct_user_product_interactions order by user_id, product_id")
    ingest_interactions(
        folder / f"{DAYS[1]}.csv",
        DAYS[1],
        lake=Lake.from_url(settings.lake_url),
        warehouse_target=settings.warehouse,
    )
    run_dbt(settings, folder, "build", "--select", "marts")
    assert (
        query(settings, "select * from marts.fct_user_product_interactions order by user_id, product_id")
        == before
    )
