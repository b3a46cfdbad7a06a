"""Daily ELT for the shop's marketing analytics: land and load the raw data, then dbt.

The day processed is the run's ``ds`` (on Airflow 3, ``@daily`` runs have
data_interval_start == data_interval_end == logical date), so re-running or backfilling a day
rebuilds exactly that day. Cosmos renders every dbt model as a task with its tests after it,
from the ``manifest.json`` built at set-up (``make manifest``); nothing at import time touches a
database or the network.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import (
    ExecutionMode,
    InvocationMode,
    LoadMode,
    SourceRenderingBehavior,
    TestBehavior,
    TestIndirectSelection,
)

DBT_PROJECT_DIR = Path(
    os.environ.get("DBT_PROJECT_DIR", Path(__file__).resolve().parent.parent / "dbt_project")
)
DBT_TARGET = os.environ.get("DBT_TARGET", "dev")

DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
}

project_config = ProjectConfig(
    dbt_project_path=DBT_PROJECT_DIR,
    manifest_path=DBT_PROJECT_DIR / "target" / "manifest.json",
    project_name="shop_analytics",
    install_dbt_deps=False,
)
profile_config = ProfileConfig(
    profile_name="shop_analytics",
    target_name=DBT_TARGET,
    profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
)
execution_config = ExecutionConfig(
    execution_mode=ExecutionMode.LOCAL,
    invocation_mode=InvocationMode.DBT_RUNNER,
    dbt_executable_path=Path(sys.executable).parent / "dbt",
    # a model's test task runs only the tests of that model; tests spanning several models run
    # in their own task once all their models are built
    test_indirect_selection=TestIndirectSelection.CAUTIOUS,
)
render_config = RenderConfig(
    load_method=LoadMode.DBT_MANIFEST,
    test_behavior=TestBehavior.AFTER_EACH,
    source_rendering_behavior=SourceRenderingBehavior.WITH_TESTS_OR_FRESHNESS,
    should_detach_multiple_parents_tests=True,
)


@task(task_id="land_interactions")
def land_interactions(ds: str | None = None) -> dict[str, object]:
    """Land the day's interactions CSV drop in the lake and raw.user_interactions."""
    from airflow.exceptions import AirflowFailException

    from loaders.config import Settings
    from loaders.errors import BadInputError
    from loaders.interactions import ingest_interactions
    from loaders.lake import Lake

    assert ds is not None
    settings = Settings.from_env()
    try:
        result = ingest_interactions(
            settings.interactions_drop_file(ds),
            ds,
            lake=Lake.from_url(settings.lake_url),
            warehouse_target=settings.warehouse,
            raw_schema=settings.raw_schema,
        )
    except BadInputError as err:
        # bad data does not get better by retrying: fail at once, with the loader's message
        raise AirflowFailException(str(err)) from None
    return {
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_rejected": result.rows_rejected,
        "rejects_by_reason": dict(result.rejects_by_reason),
        "lake_uri": result.lake_uri,
    }


with DAG(
    dag_id="etl_pipeline",
    description="Interactions CSV and shop extracts -> lake -> warehouse raw -> dbt marts",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["elt", "dbt", "marketing"],
    doc_md=__doc__,
) as dag:
    transform = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config,
        profile_config=profile_config,
        execution_config=execution_config,
        render_config=render_config,
        operator_args={
            "install_deps": False,
            "vars": {"ds": "{{ ds }}"},
            "retries": 0,  # a failing model or test is not transient
        },
    )

    land_interactions() >> transform
