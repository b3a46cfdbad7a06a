"""The DAG on Airflow's distributed executor: a real scheduler, two Celery workers, Redis.

Airflow's components run as in `make airflow`, but with the CeleryExecutor (metadata DB and
Celery result backend on PostgreSQL, Debian's ``redis-server`` as the broker on 127.0.0.1) and
two workers. A day runs while one report's table is locked (``lock_timeout`` makes its model
fail): that model's task fails, after retrying alone, and what depends on it waits; every other
model's task succeeds. Once the lock is gone, clearing the failed task (and what follows it)
re-runs that model alone, the day succeeds, and its marts match counts made from the CSV. The
tasks ran on both workers; nothing the test started is left running.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
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
from scripts.airflow_local import AIRFLOW, COMPONENTS, DAG_ID, LocalAirflow
from scripts.airflow_local_cli import dag, task_states, trigger, wait_for_run
from tests.conftest import PROJECT_DIR, env_for, free_port, run_dbt, serving
from tests.reference import expected_from_csv

pytestmark = pytest.mark.e2e

REDIS_SERVER = Path(os.environ.get("REDIS_SERVER", "/usr/bin/redis-server"))
LOCKED_MODEL = "rpt_customer_lifetime_value"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of the test's own on 127.0.0.1 (installed with `make redis-deps` if missing)."""
    if not REDIS_SERVER.exists():
        result = subprocess.run(
            ["make", "--no-print-directory", "redis-deps", f"REDIS_SERVER={REDIS_SERVER}"],
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert result.returncode == 0 and REDIS_SERVER.exists(), (
            f"the Celery test needs Debian's redis-server at {REDIS_SERVER}; `make redis-deps` failed:\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [str(REDIS_SERVER), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(folder), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 30
    while True:
        try:
            if client.ping():
                break
        except redis.ConnectionError:
            assert server.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.2)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=30)


def start_worker(local: LocalAirflow, name: str) -> None:
    """`airflow celery worker` as the official image runs it, launched so local.stop() ends it."""
    local.launch(name, "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "2",
                 "--skip-serve-logs", "--without-mingle", "--without-gossip")  # fmt: skip


def clear_with_downstream(local: LocalAirflow, task_id: str) -> list[str]:
    """`airflow tasks clear` of a task and what depends on it (the UI's "Clear" with downstream);
    the task ids it listed and cleared."""
    done = subprocess.run(
        [AIRFLOW, "tasks", "clear", DAG_ID, "--task-regex", task_id, "--downstream"],
        input="y\n", env=local.environment(), cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return re.findall(rf"<TaskInstance: {DAG_ID}\.(\S+) ", done.stdout)


def wait_for(condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(2)


def test_two_celery_workers_run_the_day_and_a_cleared_model_re_runs_alone(
    settings: Settings, tmp_path: Path, redis_url: str, metadata_db: str
) -> None:
    local = LocalAirflow(
        home=tmp_path / "airflow",
        port=free_port(),
        metadata_db_url=metadata_db,
        base_env=env_for(
            settings,
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__COSMOS__CACHE_DIR=str(tmp_path / "cosmos_cache"),
            AIRFLOW__CELERY__BROKER_URL=redis_url,
            AIRFLOW__CELERY__RESULT_BACKEND="db+" + metadata_db.replace("+psycopg2", ""),
            AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.5",
        ),
    )
    holder = psycopg.connect(settings.warehouse.conninfo())
    with serving(local, COMPONENTS, timeout=300):
        for name in ("worker1", "worker2"):
            start_worker(local, name)
        for name in ("worker1", "worker2"):
            wait_for(
                lambda n=name: " ready." in local.log_file(n).read_text(errors="replace"),
                f"{name} ready",
                120,
            )
        # the day the scheduler would pick next, so unpausing adds no other run (which would wait
        # for a drop that never comes)
        ds = dag(local)["next_dagrun_logical_date"][:10]
        generate_shop(settings.shop, ds, ShopScale(customers=200, products=30, orders_per_day=20, days=5))
        csv_path = write_interactions_csv(settings.interactions_drop_file(ds), ds, rows=3_000, customers=200,
                                          products=30).path  # fmt: skip
        expected = expected_from_csv(csv_path)
        # the day was loaded and built once already, so the report's table exists to be locked
        lake = Lake.from_url(settings.lake_url)
        ingest_interactions(csv_path, ds, lake=lake, warehouse_target=settings.warehouse)
        for table in SHOP_TABLES.values():
            extract_table(settings.shop, lake, table, ds, full=True)
            load_day(lake, settings.warehouse, "shop", table.name, ds)
        run_dbt(settings, tmp_path, "run", "--vars", f"{{ds: {ds}}}")
        warehouse = settings.warehouse.dbname
        with psycopg.connect(local_stack.superuser_conninfo(settings), autocommit=True) as conn:
            conn.execute(
                sql.SQL("alter database {} set lock_timeout = '3s'").format(sql.Identifier(warehouse))
            )

        holder.execute(f"lock table reports.{LOCKED_MODEL} in access exclusive mode")
        run_id = trigger(local, ds, conf={"full_extract": True})
        local.airflow("dags", "unpause", DAG_ID)
        failed_task = f"dbt.{LOCKED_MODEL}.run"
        wait_for(
            lambda: task_states(local, run_id).get(failed_task) == "failed", f"{failed_task} to fail", 900
        )
        assert wait_for_run(local, run_id, timeout=600) == "failed"
        states = task_states(local, run_id)
        assert states[f"dbt.{LOCKED_MODEL}.test"] == "upstream_failed"
        assert states["dbt_docs"] == "upstream_failed"
        # every other model was built and shows it
        for model in ("fct_orders", "dim_customers", "int_user_interactions_daily", "rpt_daily_sales"):
            task = f"dbt.{model}.run" if f"dbt.{model}.run" in states else f"dbt.{model}_run"
            assert states[task] == "success", (task, states)
        with psycopg.connect(metadata_db.replace("+psycopg2", "")) as conn:
            [tries] = conn.execute(
                "select try_number from task_instance where run_id = %s and task_id = %s",
                (run_id, failed_task),
            ).fetchone()
        assert tries == 2  # it retried by running its model alone, and failed again

        holder.rollback()  # the lock is gone: clear the failed task and what depends on it
        cleared = clear_with_downstream(local, failed_task)
        assert failed_task in cleared and "dbt_docs" in cleared, cleared
        assert "dbt.dim_customers.run" not in cleared  # the models that built stay as they are
        assert wait_for_run(local, run_id, timeout=900) == "success", task_states(local, run_id)
        # every task succeeded but the day's one dbt build, whose failure stays on record
        not_succeeded = {t: s for t, s in task_states(local, run_id).items() if s != "success"}
        assert not_succeeded == {"dbt.dbt_producer_watcher": "failed"}, not_succeeded

        received = {
            name: local.log_file(name).read_text(errors="replace").count("] received")
            for name in ("worker1", "worker2")
        }
        assert all(count > 0 for count in received.values()), received
        workers = [local.running()[name] for name in ("worker1", "worker2")]
        all_processes = [p for w in workers for p in [w, *w.children(recursive=True)]]
    holder.close()

    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        pairs = dict(
            ((u, p), n)
            for u, p, n in conn.execute(
                "select user_id, product_id, interaction_count from marts.fct_user_product_interactions"
            )
        )
        customers = conn.execute(f"select count(*) from reports.{LOCKED_MODEL}").fetchone()[0]
    assert pairs == dict(expected.pair_counts)
    assert customers > 0
    time.sleep(1)
    assert not [p for p in all_processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
