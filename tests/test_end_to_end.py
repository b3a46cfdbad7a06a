"""The whole pipeline through Airflow: `airflow dags test etl_pipeline <ds>`, twice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from loaders.config import Settings
from loaders.sample_data import write_interactions_csv
from tests.conftest import PROJECT_DIR, env_for
from tests.reference import expected_from_csv

pytestmark = pytest.mark.e2e

DS = "2026-11-20"
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def marts(settings: Settings) -> dict[str, object]:
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
                "select rows_read, rows_loaded, rows_rejected from raw.load_audit order by load_id"
            ).fetchall(),
        }


def test_a_daily_run_builds_marts_that_match_the_days_csv_and_a_rerun_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    csv_path = write_interactions_csv(settings.interactions_drop_file(DS), DS, rows=8_000).path
    expected = expected_from_csv(csv_path)
    home = tmp_path / "airflow"
    env = env_for(
        settings,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_DIR / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__COSMOS__CACHE_DIR=str(tmp_path / "cosmos_cache"),
    )
    migrate = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]

    runs = []
    for _ in range(2):
        run = subprocess.run(
            [AIRFLOW, "dags", "test", "etl_pipeline", DS],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        log = run.stdout + run.stderr
        assert run.returncode == 0, log[-5000:]
        assert "state=success" in log.split("DagRun Finished")[-1], log[-5000:]
        runs.append(marts(settings))

    first, second = runs
    assert first["pairs"] == dict(expected.pair_counts)
    assert len(first["interactions"]) == len(expected.clean)
    assert first["audit"] == [
        (expected.lines_read, len(expected.structurally_valid), len(expected.structural_rejects))
    ]
    assert second["pairs"] == first["pairs"]
    assert second["interactions"] == first["interactions"]
    assert len(second["audit"]) == 2
