"""Daily ELT for the shop's marketing analytics (Airflow DAG ``etl_pipeline``).

    shop.extract_<table> >> shop.load_<table>   (customers, products, orders, sales; in parallel)
    interactions.land_interactions               (the day's CSV drop -> lake + raw)
        >> dbt (Cosmos: one task per model, its tests after it) >> dbt_docs (generated, published)

The schedule is ``@daily`` with data intervals: the run for day D starts when D is over and its
``ds`` is D, so re-running, clearing or backfilling a day rebuilds exactly that day. Loaders and dbt read Airflow connections: ``shop_db`` and ``warehouse_db`` (Postgres, or
Redshift when WAREHOUSE_KIND=redshift) and ``aws_default`` when the lake is on S3; the local stack
provides them as AIRFLOW_CONN_* variables. Trigger with ``{"full_extract": true}`` for a first
load (every shop row changed up to the end of the day). Nothing at import time touches a
database or the network: Cosmos renders from ``dbt_project/target/manifest.json``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, TriggerRule, task
from airflow.sdk.definitions.taskgroup import TaskGroup
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import (
    ExecutionMode,
    InvocationMode,
    LoadMode,
    SourceRenderingBehavior,
    TestBehavior,
    TestIndirectSelection,
)
from cosmos.operators.local import DbtDocsLocalOperator

from orchestration.drop_sensor import InteractionsDropSensor

if TYPE_CHECKING:  # for annotations only: the loaders are imported by the tasks, not at parse time
    from typing import ParamSpec, TypeVar

    from redshift_connector.core import Connection as RedshiftConnection

    from loaders.config import PostgresTarget, Settings
    from loaders.lake import Lake
    from loaders.results import LoadResult

    P = ParamSpec("P")
    T = TypeVar("T")

log = logging.getLogger(__name__)

DBT_PROJECT_DIR = Path(
    os.environ.get("DBT_PROJECT_DIR", Path(__file__).resolve().parent.parent / "dbt_project")
)
WAREHOUSE_KIND = os.environ.get("WAREHOUSE_KIND", "postgres").lower()
SHOP_CONN_ID = os.environ.get("SHOP_CONN_ID", "shop_db")
WAREHOUSE_CONN_ID = os.environ.get("WAREHOUSE_CONN_ID", "warehouse_db")
AWS_CONN_ID = os.environ.get("AWS_CONN_ID", "aws_default")
SHOP_TABLES = (
    "customers",
    "products",
    "orders",
    "sales",
)  # loaders.shop.SHOP_TABLES, not imported at parse time


def notify_failure(context: dict[str, Any]) -> None:
    """One actionable line per failed task, for the log and any alert shipped from it."""
    ti = context["ti"]
    error = str(context.get("exception") or "unknown error").strip().splitlines()[0][:300]
    log.error(
        "etl_pipeline: %s failed for ds=%s (try %s): %s -- fix the cause, then re-run the day with "
        "`airflow tasks clear etl_pipeline -t '%s' -s %s -e %s -y`",
        ti.task_id, context["ds"], ti.try_number, error, ti.task_id, context["ds"], context["ds"],
    )  # fmt: skip


DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": notify_failure,
}

if WAREHOUSE_KIND == "redshift":
    from cosmos.profiles import RedshiftUserPasswordProfileMapping as WarehouseProfile
else:
    from cosmos.profiles import PostgresUserPasswordProfileMapping as WarehouseProfile

project_config = ProjectConfig(
    dbt_project_path=DBT_PROJECT_DIR,
    project_name="shop_analytics",
    install_dbt_deps=False,
)
# A plain local path: given to the constructor, Cosmos wraps it in an ObjectStoragePath, which
# loads Airflow's object-storage layer (and the S3 filesystem) on every parse of this file.
project_config.manifest_path = DBT_PROJECT_DIR / "target" / "manifest.json"
profile_config = ProfileConfig(
    profile_name="shop_analytics",
    target_name="prod" if WAREHOUSE_KIND == "redshift" else "dev",
    profile_mapping=WarehouseProfile(
        conn_id=WAREHOUSE_CONN_ID,
        # the producer's one `dbt build` runs independent models side by side (profiles.yml's
        # default too); a mapped profile would otherwise run one at a time
        profile_args={
            "schema": "analytics",
            "threads": int(os.environ.get("DBT_THREADS", 8 if WAREHOUSE_KIND == "redshift" else 4)),
        },
    ),
)
# How the dbt stage runs (DBT_EXECUTION_MODE): "watcher" (default) runs the whole day as one
# `dbt build` in the task dbt.dbt_producer_watcher, and every model and its tests are tasks that
# mirror what that build reported for them (Cosmos ExecutionMode.WATCHER); "local" runs one dbt
# invocation per model and per model's tests (Cosmos ExecutionMode.LOCAL), the slower way kept
# for comparison (make bench).
DBT_EXECUTION_MODE = os.environ.get("DBT_EXECUTION_MODE", "watcher").lower()
WATCHER = DBT_EXECUTION_MODE == "watcher"
if DBT_EXECUTION_MODE not in ("watcher", "local"):
    raise ValueError(f"DBT_EXECUTION_MODE={DBT_EXECUTION_MODE!r}: choose watcher or local")
execution_config = ExecutionConfig(
    execution_mode=ExecutionMode.WATCHER if WATCHER else ExecutionMode.LOCAL,
    # the producer's one build runs dbt in a process of its own, whose JSON log lines Cosmos reads:
    # in-process (DBT_RUNNER), Cosmos turns every dbt event into JSON in the build's own threads and
    # the build took twice as long (20,000 rows: 18.4 s against 10.4 s, plain dbt 9.1 s); one dbt
    # per task (LOCAL) is cheaper in-process, dbt's start-up being paid once per Airflow process
    invocation_mode=InvocationMode.SUBPROCESS if WATCHER else InvocationMode.DBT_RUNNER,
    dbt_executable_path=Path(sys.executable).parent / "dbt",
    # a model's test task runs that model's tests; tests spanning several models run in a task
    # of their own once all of them are built and tested
    test_indirect_selection=TestIndirectSelection.CAUTIOUS,
    # the producer's one `dbt build` is not retried: a failed model fails its own task, which
    # retries by running that model alone (a retried producer would only skip)
    setup_operator_args={"retries": 0} if WATCHER else None,
)
render_config = RenderConfig(
    load_method=LoadMode.DBT_MANIFEST,
    test_behavior=TestBehavior.AFTER_EACH,
    # the raw tables are landed (and counted) by the loaders; their tests run in the build
    source_rendering_behavior=(
        SourceRenderingBehavior.NONE if WATCHER else SourceRenderingBehavior.WITH_TESTS_OR_FRESHNESS
    ),
    # a test reading several models (relationships, reconciliations, the PII leak scan): in the
    # watcher it is part of the verdict of each of those models' test tasks (the producer waits
    # for all of a model's tests before it reports them), so a task of its own would only repeat
    # that verdict; one dbt per task runs it in a task of its own, once all of them are built
    should_detach_multiple_parents_tests=not WATCHER,
)

# Watcher tasks: each one reads its model's (or its tests') result from the producer's XComs.
# They retry once, by running their node alone: that is how a cleared task re-runs its model
# (and how a task that ran before the model was fixed picks the fix up).
WATCHER_TASK_ARGS = {
    "retries": 1,
    "retry_delay": timedelta(seconds=5),
    "retry_exponential_backoff": False,
    "poke_interval": 2,  # how often a deferred watcher task looks for its result
}


def wire_watcher(group: DbtTaskGroup, upstream: list[TaskGroup]) -> None:
    """The day's loads feed the producer alone, and the watcher tasks start once it is done.

    Each root watcher task waits for the producer's end (``one_done``: succeeded or failed, so a
    failed build still reports every model's own state; skipped when the loads failed). Run
    after the build, each task finds its result at once: no task ever waits for a producer that
    has not started, which `airflow dags test` (one task at a time, in any order) would need.

    The group's "producer done" gate waits for the producer to end however it ends: a failed
    build's verdict is carried by the failed model's own task, so once that task is cleared and
    succeeds, what follows the group (the docs) runs and the day can succeed.
    """
    from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, PRODUCER_WATCHER_TASK_ID

    producer = group.tasks_map[PRODUCER_WATCHER_TASK_ID]
    roots = [root for root in group.roots if root is not producer]
    upstream >> producer
    if PRODUCER_WATCHER_DONE_TASK_ID in group.tasks_map:
        group.tasks_map[PRODUCER_WATCHER_DONE_TASK_ID].trigger_rule = TriggerRule.ALL_DONE
    for root in roots:
        producer >> root
        root.trigger_rule = TriggerRule.ONE_DONE


# --- adapters: Airflow connections and the run's day -> the loaders' plain inputs ---------------


def _settings() -> Settings:
    from airflow.sdk import BaseHook

    from loaders.config import PostgresTarget, Settings

    base = Settings.from_env()

    def target(conn_id: str, default: PostgresTarget) -> PostgresTarget:
        conn = BaseHook.get_connection(conn_id)
        return PostgresTarget(
            host=conn.host or default.host,
            port=conn.port or default.port,
            user=conn.login or default.user,
            password=conn.password or default.password,
            dbname=conn.schema or default.dbname,
            sslmode=(conn.extra_dejson or {}).get("sslmode", default.sslmode),
        )

    return base.with_overrides(
        shop=target(SHOP_CONN_ID, base.shop), warehouse=target(WAREHOUSE_CONN_ID, base.warehouse)
    )


def _s3_client() -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=AWS_CONN_ID).get_conn()


def _lake(settings: Settings) -> Lake:
    from loaders.lake import Lake

    if settings.lake_url.startswith("s3://"):
        return Lake.from_url(settings.lake_url, s3_client=_s3_client())
    return Lake.from_url(settings.lake_url)


def _bad_data_fails_at_once(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Bad input does not get better by retrying: fail without retries, with the loader's line."""
    from airflow.exceptions import AirflowFailException

    from loaders.errors import BadInputError

    try:
        return call(*args, **kwargs)
    except BadInputError as err:
        raise AirflowFailException(str(err)) from None


def _load(settings: Settings, lake: Lake, source: str, table: str, ds: str) -> LoadResult:
    from loaders.destination import load_landed_day

    def redshift_connect() -> RedshiftConnection:
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

        return RedshiftSQLHook(redshift_conn_id=WAREHOUSE_CONN_ID).get_conn()

    return load_landed_day(settings, lake, source, table, ds, redshift_connect=redshift_connect)


@task
def extract(table: str, ds: str | None = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Extract the day's rows of one shop table into the lake."""
    from loaders.catalog import table_named
    from loaders.shop import extract_table

    settings = _settings()
    full = bool((params or {}).get("full_extract"))
    result = _bad_data_fails_at_once(
        extract_table,
        settings.shop,
        _lake(settings),
        table_named(table),
        ds,  # type: ignore[arg-type]  # Airflow passes the run's ds
        full=full,
    )
    return {"rows": result.rows, "mode": result.mode, "lake_uri": result.lake_uri}


@task
def load(table: str, ds: str | None = None) -> dict[str, Any]:
    """Load the landed day of one shop table into raw (replacing the day)."""
    settings = _settings()
    result = _bad_data_fails_at_once(_load, settings, _lake(settings), "shop", table, ds)  # type: ignore[arg-type]  # Airflow passes the run's ds
    return {"rows_loaded": result.rows_loaded, "rows_rejected": result.rows_rejected}


@task
def land_interactions(ds: str | None = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Land the day's interactions CSV drop in the lake and raw.user_interactions (replacing a
    day already landed only with a plausibly whole one, unless the run's ``allow_shrink``)."""
    from loaders.destination import one_pass_target
    from loaders.drop import Drop
    from loaders.interactions import ingest_interactions

    settings = _settings()
    lake = _lake(settings)
    s3_client = _s3_client() if settings.drop_url.startswith("s3://") else None
    direct = one_pass_target(settings)  # None on Redshift: the day goes lake -> COPY FROM S3
    result = _bad_data_fails_at_once(
        ingest_interactions,
        Drop(settings.drop_url).source(ds),  # type: ignore[arg-type]  # Airflow passes the run's ds
        ds,  # type: ignore[arg-type]  # Airflow passes the run's ds
        lake=lake,
        warehouse_target=direct,
        raw_schema=settings.raw_schema,
        allow_shrink=bool((params or {}).get("allow_shrink", False)),
        s3_client=s3_client,
    )
    if direct is None:
        _bad_data_fails_at_once(_load, settings, lake, "interactions", "user_interactions", ds)  # type: ignore[arg-type]  # Airflow passes the run's ds
    return {
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_rejected": result.rows_rejected,
        "rejects_by_reason": dict(result.rejects_by_reason),
        "lake_uri": result.lake_uri,
    }


def publish_docs(project_dir: str, context: dict[str, Any] | None = None, **_: Any) -> None:
    """Cosmos callback after `dbt docs generate`: publish the site to the lake's docs/."""
    from loaders.docs import publish_docs_site

    settings = _settings()
    site_dir = os.environ.get("DBT_DOCS_DIR")  # served by airflow_plugins/dbt_docs_plugin.py
    publish_docs_site(Path(project_dir) / "target", _lake(settings), Path(site_dir) if site_dir else None)


with DAG(
    dag_id="etl_pipeline",
    description="Shop extracts and interactions CSV -> lake -> warehouse raw -> dbt marts and reports",
    # @daily with data intervals: the run for day D starts once D is over, and its ds is D (a
    # plain "@daily" on Airflow 3 would run at midnight for the day just starting)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=timedelta(hours=3),
    params={
        "full_extract": Param(
            False, type="boolean", description="extract every row changed up to the day's end"
        ),
        "allow_shrink": Param(
            False,
            type="boolean",
            description="let an interactions file with no valid rows, or under half the rows landed "
            "before, replace the day (loaders/day_guard.py)",
        ),
    },
    tags=["elt", "dbt", "marketing"],
    doc_md=__doc__,
) as dag:
    with TaskGroup(group_id="shop", tooltip="shop database -> lake -> raw, one table each") as shop:
        for name in SHOP_TABLES:
            extract.override(task_id=f"extract_{name}")(name) >> load.override(task_id=f"load_{name}")(name)

    with TaskGroup(group_id="interactions", tooltip="the day's CSV drop -> lake + raw") as interactions:
        # waits (deferred, in the triggerer) for a late drop; the shop extracts do not wait for it
        (
            InteractionsDropSensor(
                task_id="wait_for_drop",
                aws_conn_id=AWS_CONN_ID,
                poke_interval=float(os.environ.get("INTERACTIONS_POKE_SECONDS", 30)),
                timeout=float(os.environ.get("INTERACTIONS_WAIT_MINUTES", 120)) * 60,
                settle_seconds=float(os.environ.get("INTERACTIONS_SETTLE_SECONDS", 5)),
                retries=0,
            )
            >> land_interactions()
        )

    transform = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config,
        profile_config=profile_config,
        execution_config=execution_config,
        render_config=render_config,
        operator_args={
            "install_deps": False,
            # no manifest.json / run_results.json per invocation (nothing here reads them)
            "dbt_cmd_global_flags": ["--no-write-json"],
            "vars": {"ds": "{{ ds }}"},
            **(WATCHER_TASK_ARGS if WATCHER else {"retries": 0}),  # LOCAL: a failure is not transient
        },
    )
    if WATCHER:
        wire_watcher(transform, upstream=[shop, interactions])
    else:
        [shop, interactions] >> transform

    docs = DbtDocsLocalOperator(
        task_id="dbt_docs",
        project_dir=DBT_PROJECT_DIR,
        profile_config=profile_config,
        install_deps=False,
        invocation_mode=InvocationMode.DBT_RUNNER,
        callback=publish_docs,
        retries=1,
        # dbt's partial-parse state of the build just run: the same vars and the group's Cosmos
        # cache, so the docs do not pay a full parse of the project (about 3 s)
        vars={"ds": "{{ ds }}"},
        cache_dir=next(
            (t.cache_dir for t in transform.tasks_map.values() if getattr(t, "cache_dir", None)), None
        ),
    )

    transform >> docs
