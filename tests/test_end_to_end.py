"""The whole pipeline through Airflow: `airflow dags test etl_pipeline <ds>`, twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from loaders.config import Settings
from loaders.sample_data import ShopScale, generate_shop, write_interactions_csv
from tests.conftest import airflow_test_env
from tests.reference import expected_from_csv

pytestmark = pytest.mark.e2e

DS = "2026-11-20"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
RAW_TABLES = ("customers", "products", "orders", "sales", "user_interactions")


def observe(settings: Settings) -> dict[str, object]:
    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        return {
            "pairs": {
                (u, p): n
                for u, p, n in conn.execute(
                    "select user_id, product_id, interaction_count from marts.fct_user_product_interactions"
                )
            },
            "interactions": sorted(
                conn.execute(
                    "select interaction_id, interaction_count from marts.fct_interactions"
                ).fetchall()
            ),
            "audit": conn.execute(
                "select table_name, rows_read, rows_loaded, rows_rejected from raw.load_audit order by load_id"
            ).fetchall(),
            "raw": {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW_TABLES},
        }


def test_a_daily_run_lands_every_table_builds_marts_that_match_and_a_rerun_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    shop = generate_shop(settings.shop, DS, ShopScale(customers=400, products=60, orders_per_day=40, days=10))
    csv_path = write_interactions_csv(
        settings.interactions_drop_file(DS), DS, rows=8_000, customers=400, products=60
    ).path
    expected = expected_from_csv(csv_path)
    env = airflow_test_env(settings, tmp_path)

    runs = []
    for _ in range(2):
        run = subprocess.run(
            [AIRFLOW, "dags", "test", "etl_pipeline", DS, "-c", '{"full_extract": true}'],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        log = run.stdout + run.stderr
        assert run.returncode == 0, log[-5000:]
        assert "state=success" in log.split("DagRun Finished")[-1], log[-5000:]
        runs.append(observe(settings))
    first, second = runs

    # every table of the day landed, and every load adds up
    assert first["raw"] == {
        "customers": shop.customers, "products": shop.products, "orders": shop.orders, "sales": shop.sales,
        "user_interactions": len(expected.structurally_valid),
    }  # fmt: skip
    assert sorted(row[0] for row in first["audit"]) == sorted(RAW_TABLES)
    assert all(read == loaded + rejected for _, read, loaded, rejected in first["audit"])
    interactions_audit = [row[1:] for row in first["audit"] if row[0] == "user_interactions"]
    assert interactions_audit == [
        (expected.lines_read, len(expected.structurally_valid), len(expected.structural_rejects))
    ]

    # the marts match counts made independently from the CSV
    assert first["pairs"] == dict(expected.pair_counts)
    assert len(first["interactions"]) == len(expected.clean)

    # the docs site was generated and published to the lake
    docs = Path(settings.lake_url.removeprefix("file://")) / "docs"
    assert {p.name for p in docs.iterdir()} >= {"index.html", "manifest.json", "catalog.json"}

    # the same day again: the same rows, one more audit row per table
    assert second["raw"] == first["raw"]
    assert second["pairs"] == first["pairs"]
    assert second["interactions"] == first["interactions"]
    assert len(second["audit"]) == 2 * len(RAW_TABLES)
