"""A day whose interactions file is late: the run waits for it (the drop sensor, deferred), goes
on once it lands, and gives up at its deadline with the path it waited for. Both through
``scripts/run_day.py``, the runner of ``make run`` (``airflow dags test`` followed by stage)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from loaders.config import Settings
from loaders.sample_data import ShopScale, generate_shop, write_interactions_csv
from scripts.run_day import dbt_totals
from tests.conftest import PROJECT_DIR, airflow_test_env

pytestmark = pytest.mark.e2e

DS = "2026-11-20"
AIRFLOW = str(Path(sys.executable).parent / "airflow")


def airflow_env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    return airflow_test_env(
        settings, tmp_path, INTERACTIONS_POKE_SECONDS="1", INTERACTIONS_SETTLE_SECONDS="1", **extra
    )


def run_day(env: dict[str, str], log: Path, timeout: float = 900) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.run_day", "--ds", DS, "--conf", '{"full_extract": true}', "--log", str(log)],
        env=env, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def task_states(home: Path) -> dict[str, str]:
    with sqlite3.connect(home / "airflow.db") as conn:
        run_id = conn.execute("select run_id from dag_run order by id desc limit 1").fetchone()[0]
        return dict(conn.execute("select task_id, state from task_instance where run_id = ?", (run_id,)))


def test_a_late_file_is_waited_for_and_the_day_completes_once_it_lands(
    settings: Settings, tmp_path: Path
) -> None:
    generate_shop(settings.shop, DS, ShopScale(customers=200, products=30, orders_per_day=20, days=3))
    env = airflow_env(settings, tmp_path)
    drop_file = settings.interactions_drop_file(DS)
    assert not drop_file.exists()
    log = tmp_path / "run.log"

    process = run_day(env, log)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    # the run is waiting (deferred) for the file: drop it, as an upstream system would
    deadline = time.monotonic() + 300
    while not any("waiting for it" in line for line in lines):
        assert process.poll() is None, "".join(lines) + log.read_text()[-3000:]
        assert time.monotonic() < deadline, "".join(lines)
        time.sleep(0.5)
    dropped_at = time.monotonic()
    staging = drop_file.with_name(drop_file.name + ".part")
    write_interactions_csv(staging, DS, rows=3_000, customers=200, products=30)
    staging.rename(drop_file)  # written under another name, then renamed: never seen half-written
    process.wait(timeout=900)
    reader.join(timeout=10)
    output = "".join(lines)

    assert process.returncode == 0, output + log.read_text()[-5000:]
    assert "DAG run  success" in output, output
    assert time.monotonic() - dropped_at < 600
    # progress by stage, not one line per task
    models, tests = dbt_totals()
    for expected in (r"extract +customers +200 rows", r"load +sales +\d+ rows", r"land +interactions +3,000 read",
                     rf"dbt +{models} of {models} models built, tests of {tests} of {tests} nodes passed, 0 failed",
                     r"wait +the day's interactions"):  # fmt: skip
        assert re.search(expected, output), (expected, output)
    assert not re.search(r"^ *done: ", output, re.M)  # not one line per task
    states = task_states(tmp_path / "airflow")
    assert states["interactions.wait_for_drop"] == "success"
    assert all(state == "success" for state in states.values()), states
    with __import__("psycopg").connect(settings.warehouse.conninfo()) as conn:
        loaded = conn.execute("select count(*) from raw.user_interactions where _ds = %s", (DS,)).fetchone()[
            0
        ]
        staged = conn.execute("select count(*) from marts.fct_interactions where _ds = %s", (DS,)).fetchone()[
            0
        ]
    assert loaded > 2_900 and 0 < staged <= loaded


def test_a_file_that_never_comes_fails_the_day_at_the_deadline_and_the_shop_still_loads(
    settings: Settings, tmp_path: Path
) -> None:
    generate_shop(settings.shop, DS, ShopScale(customers=100, products=20, orders_per_day=10, days=2))
    env = airflow_env(settings, tmp_path, INTERACTIONS_WAIT_MINUTES="0.05")  # 3 s
    log = tmp_path / "run.log"

    process = run_day(env, log)
    output, _ = process.communicate(timeout=600)

    assert process.returncode == 1, output
    text = log.read_text()
    expected = f"no interactions file for {DS} at {settings.interactions_drop_file(DS).as_uri()} after 0 min"
    assert expected in text, text[-5000:]
    assert "then run `airflow tasks clear etl_pipeline -t 'interactions.wait_for_drop'" in text
    assert "FAILED   interactions.wait_for_drop" in output, output
    states = task_states(tmp_path / "airflow")
    assert states["interactions.wait_for_drop"] == "failed"
    assert states["interactions.land_interactions"] == "upstream_failed"
    # the shop extracts did not wait for the interactions file
    assert {states[f"shop.load_{t}"] for t in ("customers", "products", "orders", "sales")} == {"success"}
    assert states["dbt.dbt_producer_watcher"] == "upstream_failed"
