"""The dbt stage of one day through Airflow (Cosmos) versus one plain ``dbt build``.

Sets up a warehouse of its own on the local stack with the shop extracts and a day of N
interactions (default 1M), builds every model once (warm-up), then alternates:

  (a) plain:    ``dbt build --vars '{ds: <day>}'`` of the whole project, one process
  (b) Airflow:  ``airflow dags test etl_pipeline <day>``; the dbt stage is the span from the
                first ``dbt.*`` task's start to the last one's end (metadata DB), so the loaders
                before it and the docs after it are not counted

and prints the medians and the ratio b/a (target <= 1.5). Run with ``make bench-dbt``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from loaders import local_stack  # noqa: E402
from loaders.config import Settings  # noqa: E402
from loaders.interactions import ingest_interactions  # noqa: E402
from loaders.lake import Lake  # noqa: E402
from loaders.load import load_day  # noqa: E402
from loaders.sample_data import generate_shop, write_interactions_csv  # noqa: E402
from loaders.shop import SHOP_TABLES, extract_table  # noqa: E402

DS = "2026-11-20"
BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="interactions in the day")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    base = Settings.from_env()
    local_stack.up(base)
    with (
        local_stack.scratch_databases(base, "bench_dbt_wh", "bench_dbt_shop") as names,
        tempfile.TemporaryDirectory(prefix="dbt-stage-bench-") as folder,
    ):
        settings = base.with_overrides(
            warehouse=replace(base.warehouse, dbname=names["bench_dbt_wh"]),
            shop=replace(base.shop, dbname=names["bench_dbt_shop"]),
            lake_url=(Path(folder) / "lake").as_uri(),
            interactions_drop_dir=Path(folder) / "drop",
        )
        run(settings, Path(folder), args)


def run(settings: Settings, folder: Path, args: argparse.Namespace) -> None:
    print(f"\n== dbt stage of one day: {args.rows:,} interactions ({os.cpu_count()} cores)")
    generate_shop(settings.shop, DS)
    csv_path = write_interactions_csv(settings.interactions_drop_file(DS), DS, rows=args.rows).path
    lake = Lake.from_url(settings.lake_url)
    ingest_interactions(csv_path, DS, lake=lake, warehouse_target=settings.warehouse)
    for name in SHOP_TABLES:
        extract_table(settings.shop, lake, SHOP_TABLES[name], DS, full=True)
        load_day(lake, settings.warehouse, "shop", name, DS)

    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(PROJECT_DIR),
        "WAREHOUSE_DBNAME": settings.warehouse.dbname,
        "SHOP_DBNAME": settings.shop.dbname,
        "LAKE_URL": settings.lake_url,
        "INTERACTIONS_DROP_DIR": str(settings.interactions_drop_dir),
        "AIRFLOW_HOME": str(folder / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(folder / "cosmos_cache"),
        "AIRFLOW_CONN_WAREHOUSE_DB": settings.warehouse.url(),
        "AIRFLOW_CONN_SHOP_DB": settings.shop.url(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    dbt = [
        str(BIN / "dbt"), "--no-use-colors", "--quiet", "build", "--vars", f"{{ds: {DS}}}",
        "--project-dir", str(PROJECT_DIR / "dbt_project"), "--profiles-dir", str(PROJECT_DIR / "dbt_project"),
        "--target-path", str(folder / "dbt_target"), "--log-path", str(folder / "dbt_logs"),
    ]  # fmt: skip
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    print("  warm-up: first full dbt build ...", flush=True)
    subprocess.run(dbt, env=env, check=True, capture_output=True)

    plain, through_airflow = [], []
    for i in range(args.runs):
        start = time.perf_counter()
        subprocess.run(dbt, env=env, check=True, capture_output=True)
        plain.append(time.perf_counter() - start)
        result = subprocess.run(
            # the same conf as the first load of the day (a full extract), so raw holds what it held
            [str(BIN / "airflow"), "dags", "test", "etl_pipeline", DS, "-c", '{"full_extract": true}'],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            failed = [
                line for line in (result.stdout + result.stderr).splitlines() if "failed for ds=" in line
            ]
            sys.exit("the DAG run failed:\n" + "\n".join(failed or [(result.stdout + result.stderr)[-3000:]]))
        through_airflow.append(dbt_stage_seconds(folder / "airflow" / "airflow.db"))
        print(
            f"  run {i + 1}: (a) dbt build {plain[-1]:.1f}s   (b) dbt stage in Airflow {through_airflow[-1]:.1f}s"
        )
    a, b = statistics.median(plain), statistics.median(through_airflow)
    print(f"  medians: (a) {a:.1f}s  (b) {b:.1f}s")
    print(f"  b/a = {b / a:.2f}   (the dbt stage through Airflow vs one plain dbt build; target <= 1.5)")


def dbt_stage_seconds(metadata_db: Path) -> float:
    """Span of the latest run's dbt.* tasks, from the Airflow metadata database (SQLite)."""
    with sqlite3.connect(metadata_db) as conn:
        run_id = conn.execute(
            "select run_id from dag_run where dag_id = 'etl_pipeline' order by id desc limit 1"
        ).fetchone()[0]
        first, last = conn.execute(
            "select min(julianday(start_date)), max(julianday(end_date)) from task_instance "
            "where dag_id = 'etl_pipeline' and run_id = ? and task_id like 'dbt.%'",
            (run_id,),
        ).fetchone()
    return (last - first) * 86_400


if __name__ == "__main__":
    main()
