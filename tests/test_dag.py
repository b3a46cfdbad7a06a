"""The DAG file: imports cleanly and fast, renders every dbt model with its tests, in order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.airflow_env import airflow_env
from tests.conftest import PROJECT_DIR

MANIFEST = PROJECT_DIR / "dbt_project" / "target" / "manifest.json"

INSPECT = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("etl_pipeline")
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dag_ids": sorted(bag.dags),
    "schedule": [type(dag.timetable).__name__, dag.timetable.expression, str(dag.timetable.timezone)] if dag else None,
    "max_active_runs": dag.max_active_runs if dag else None,
    "tasks": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks} if dag else {},
    "tests_per_model": getattr(dag.task_dict.get("dbt.dbt_producer_watcher"), "tests_per_model", None) if dag else None,
    "details": {
        t.task_id: {"trigger_rule": getattr(t.trigger_rule, "value", t.trigger_rule), "retries": t.retries, "class": type(t).__name__}
        for t in dag.tasks
    } if dag else {},
}))
"""


def inspect_dag(home: Path, **extra: str) -> dict:
    if not MANIFEST.exists():
        pytest.fail("dbt_project/target/manifest.json is missing: run `make manifest` (make test does)")
    # nothing may be contacted while the file is parsed: point every service nowhere
    env = airflow_env(
        home, {"PATH": "/usr/bin:/bin", "WAREHOUSE_HOST": "192.0.2.1", "SHOP_HOST": "192.0.2.1", **extra}
    )
    result = subprocess.run(
        [sys.executable, "-c", INSPECT, str(PROJECT_DIR / "dags")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def dag_facts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return inspect_dag(tmp_path_factory.mktemp("airflow_home"))


def test_the_dag_file_imports_without_errors(dag_facts: dict) -> None:
    assert dag_facts["errors"] == {}
    assert dag_facts["dag_ids"] == ["etl_pipeline"]
    # daily, with data intervals: the run for a day starts once the day is over
    assert dag_facts["schedule"] == ["CronDataIntervalTimetable", "0 0 * * *", "UTC"]  # @daily
    assert dag_facts["max_active_runs"] == 1


def test_every_dbt_model_is_a_task_with_its_tests_after_it(dag_facts: dict) -> None:
    tasks = dag_facts["tasks"]
    manifest = json.loads(MANIFEST.read_text())
    models = [n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    tested = {
        manifest["nodes"][parent]["name"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test"  # in the watcher, a test of several models is each one's
        for parent in n["depends_on"]["nodes"]
        if parent.startswith("model.")
    }
    assert models, "the manifest has no models"
    for model in models:
        if model in tested:
            assert f"dbt.{model}.run" in tasks, model
            assert tasks[f"dbt.{model}.test"] == [f"dbt.{model}.run"], model
        else:  # Cosmos names a model without tests of its own `<model>_run`
            assert f"dbt.{model}_run" in tasks, model


def test_models_run_after_their_parents_tests(dag_facts: dict) -> None:
    tasks = dag_facts["tasks"]
    assert "dbt.stg_shop__orders.test" in tasks["dbt.int_orders_joined_to_sales.run"]
    assert "dbt.base_shop__orders.test" in tasks["dbt.stg_shop__orders.run"]


LOADS = {f"shop.load_{t}" for t in ("customers", "products", "orders", "sales")} | {
    "interactions.land_interactions"
}


def test_each_shop_table_is_extracted_then_loaded_in_parallel_with_the_interactions(dag_facts: dict) -> None:
    tasks = dag_facts["tasks"]
    for table in ("customers", "products", "orders", "sales"):
        assert tasks[f"shop.extract_{table}"] == []
        assert tasks[f"shop.load_{table}"] == [f"shop.extract_{table}"]
    # the interactions wait for the day's file; the shop extracts do not
    assert tasks["interactions.wait_for_drop"] == []
    assert tasks["interactions.land_interactions"] == ["interactions.wait_for_drop"]
    assert dag_facts["details"]["interactions.wait_for_drop"]["class"] == "InteractionsDropSensor"


def test_every_day_is_landed_before_any_dbt_task(dag_facts: dict) -> None:
    tasks = dag_facts["tasks"]
    roots = [
        t for t, up in tasks.items() if t.startswith("dbt.") and not any(u.startswith("dbt.") for u in up)
    ]
    assert roots
    for root in roots:
        assert set(tasks[root]) == LOADS, root


def test_the_docs_are_generated_after_every_dbt_task(dag_facts: dict) -> None:
    tasks = dag_facts["tasks"]
    dbt_tasks = {t for t in tasks if t.startswith("dbt.")}
    leaves = {t for t in dbt_tasks if not any(t in tasks[other] for other in dbt_tasks)}
    assert set(tasks["dbt_docs"]) == leaves


def test_a_test_spanning_several_models_is_part_of_each_ones_verdict(dag_facts: dict) -> None:
    """Watcher: the producer reports a model's tests once all of them have ended, those reading
    other models too, so each of those models' test tasks carries the test's verdict (and gates
    what depends on it); no task of its own repeats it."""
    tasks, tests_per_model = dag_facts["tasks"], dag_facts["tests_per_model"]
    manifest = json.loads(MANIFEST.read_text())
    spanning = [
        n for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and sum(p.startswith("model.") for p in n["depends_on"]["nodes"]) >= 2
    ]  # fmt: skip
    names = {n["name"] for n in spanning}
    assert {"assert_interactions_reconcile_with_raw"} <= names and any(
        n.startswith("no_clear_text_pii") for n in names
    )
    for test in spanning:
        for parent in (p for p in test["depends_on"]["nodes"] if p.startswith("model.")):
            assert test["unique_id"] in tests_per_model.get(parent, []), (test["name"], parent)
            assert f"dbt.{manifest['nodes'][parent]['name']}.test" in tasks, (test["name"], parent)
        assert not any(t.startswith(f"dbt.{test['name']}") for t in tasks), test["name"]


PRODUCER = "dbt.dbt_producer_watcher"


def test_one_dbt_build_feeds_every_model_task_and_none_waits_for_a_build_not_started(dag_facts: dict) -> None:
    """The watcher arrangement: the day's loads feed the producer alone (its one dbt build);
    every root model task starts when the producer has ended, succeeded or failed (so each
    model still shows its own state), and retries once by running its model alone."""
    tasks, details = dag_facts["tasks"], dag_facts["details"]
    assert set(tasks[PRODUCER]) == LOADS
    assert details[PRODUCER]["retries"] == 0 and details[PRODUCER]["class"] == "DbtProducerWatcherOperator"
    mirrors = [t for t in tasks if t.startswith("dbt.") and not t.startswith(PRODUCER)]
    assert len(mirrors) >= 40
    roots = [t for t in mirrors if not any(u.startswith("dbt.") and u != PRODUCER for u in tasks[t])]
    assert roots
    for task in mirrors:
        assert not set(tasks[task]) & LOADS, task  # nothing but the producer reads the loads
        assert details[task]["retries"] == 1, task
    for task in roots:
        assert tasks[task] == [PRODUCER], task
        assert details[task]["trigger_rule"] == "one_done", task
    inner = [t for t in mirrors if t not in roots]
    assert inner and all(details[t]["trigger_rule"] == "all_success" for t in inner)
    # the group's gate ends with the producer however it ends: a failed model's own task carries
    # the verdict, so clearing it (and what follows) can still finish the day
    assert details[PRODUCER + "_done"]["trigger_rule"] == "all_done"
    assert PRODUCER + "_done" in tasks["dbt_docs"]


def test_the_earlier_way_one_dbt_invocation_per_task_still_renders(tmp_path: Path) -> None:
    facts = inspect_dag(tmp_path, DBT_EXECUTION_MODE="local")
    assert facts["errors"] == {}
    tasks = facts["tasks"]
    assert PRODUCER not in tasks
    assert "dbt.stg_shop__orders.test" in tasks["dbt.int_orders_joined_to_sales.run"]
    assert facts["details"]["dbt.stg_shop__orders.run"]["class"] == "DbtRunLocalOperator"
    # one dbt per task: a test reading several models runs in a task of its own, after all of them
    upstream = set(tasks["dbt.assert_interactions_reconcile_with_raw_test"])
    manifest = json.loads(MANIFEST.read_text())
    test = next(
        n for n in manifest["nodes"].values() if n["name"] == "assert_interactions_reconcile_with_raw"
    )
    for parent in (
        manifest["nodes"][p]["name"] for p in test["depends_on"]["nodes"] if p.startswith("model.")
    ):
        assert f"dbt.{parent}.test" in upstream or f"dbt.{parent}_run" in upstream, parent
