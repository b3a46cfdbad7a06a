"""The dbt stage of one day through Airflow (Cosmos) versus one plain ``dbt build``.

Sets up a warehouse of its own on the local stack with the shop extracts and a day of N
interactions (default 1M), builds every model once and runs the DAG once per mode (warm-up), then alternates, run after run:

  (a) plain:    ``dbt build --vars '{ds: <day>}'`` of the whole project, one process
  (b) watcher:  ``airflow dags test etl_pipeline <day>`` as the DAG runs it (Cosmos
                ExecutionMode.WATCHER: one ``dbt build`` in a producer task, a task per model
                and per model's tests mirroring its result)
  (c) local:    the same with ``DBT_EXECUTION_MODE=local`` (Cosmos ExecutionMode.LOCAL: a dbt
                invocation per model and per model's tests), the DAG's earlier way

The dbt stage is the span from the first ``dbt.*`` task's start to the last one's end (the
metadata DB), so the loaders before it and the docs after it are not counted. Prints the
medians, the ratios to (a), and where (b)'s time goes (the producer task, and the tasks that
mirror it). ``--modes`` picks some of them; each run's full log is kept in ``--logs``.

Airflow's own floor is measured beside them: ``airflow dags test`` of a DAG of as many no-op
Python tasks as the watcher runs after its producer, so the mirroring tasks can be compared
with what Airflow itself costs per task in the same runner.

    python bench/dbt_stage.py [--rows 1000000] [--runs 2] [--modes plain,watcher,local]
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

from loaders import local_stack, pii_key  # noqa: E402
from loaders.catalog import SHOP_TABLES  # noqa: E402
from loaders.config import Settings  # noqa: E402
from loaders.interactions import ingest_interactions  # noqa: E402
from loaders.lake import Lake  # noqa: E402
from loaders.load import load_day  # noqa: E402
from loaders.sample_data import generate_shop, write_interactions_csv  # noqa: E402
from loaders.shop import extract_table  # noqa: E402
from scripts.airflow_env import airflow_env  # noqa: E402

DS = "2026-11-20"
BIN = Path(sys.executable).parent
MODES = ("plain", "watcher", "local")
TARGET = 1.15


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="interactions in the day")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, of " + ", ".join(MODES))
    parser.add_argument("--logs", type=Path, default=PROJECT_DIR / ".local" / "bench" / "dbt_stage")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes {sorted(unknown)}: choose among {', '.join(MODES)}")
    args.logs.mkdir(parents=True, exist_ok=True)

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
        pii_key.install_local_key(settings)  # as `make up` does for the local warehouse
        run(settings, Path(folder), args, modes)


def run(settings: Settings, folder: Path, args: argparse.Namespace, modes: list[str]) -> None:
    print(f"\n== dbt stage of one day: {args.rows:,} interactions ({os.cpu_count()} cores)")
    generate_shop(settings.shop, DS)
    csv_path = write_interactions_csv(settings.interactions_drop_file(DS), DS, rows=args.rows).path
    lake = Lake.from_url(settings.lake_url)
    ingest_interactions(csv_path, DS, lake=lake, warehouse_target=settings.warehouse)
    for name in SHOP_TABLES:
        extract_table(settings.shop, lake, SHOP_TABLES[name], DS, full=True)
        load_day(lake, settings.warehouse, "shop", name, DS)

    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WAREHOUSE_", "SHOP_"))}
    env = airflow_env(
        folder / "airflow",
        base
        | {
            "WAREHOUSE_DBNAME": settings.warehouse.dbname,
            "SHOP_DBNAME": settings.shop.dbname,
            "LAKE_URL": settings.lake_url,
            "INTERACTIONS_DROP_DIR": str(settings.interactions_drop_dir),
            "AIRFLOW__COSMOS__CACHE_DIR": str(folder / "cosmos_cache"),
            "AIRFLOW_CONN_WAREHOUSE_DB": settings.warehouse.url(),
            "AIRFLOW_CONN_SHOP_DB": settings.shop.url(),
        },
    )
    dbt = [
        str(BIN / "dbt"), "--no-use-colors", "--quiet", "build", "--vars", f"{{ds: {DS}}}",
        "--project-dir", str(PROJECT_DIR / "dbt_project"), "--profiles-dir", str(PROJECT_DIR / "dbt_project"),
        "--target-path", str(folder / "dbt_target"), "--log-path", str(folder / "dbt_logs"),
    ]  # fmt: skip
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    # warm-up, so that every measured run starts as a day's run does: tables built, and dbt's
    # partial-parse state saved for its profile (plain dbt's in its target/, the DAG's in
    # Cosmos's cache), so no measured run pays a full parse the others do not
    print("  warm-up: one dbt build, one DAG run per mode ...", flush=True)
    subprocess.run(dbt, env=env, check=True, capture_output=True)
    for mode in modes:
        if mode != "plain":
            dags_test(env | {"DBT_EXECUTION_MODE": mode}, args.logs / f"warm-up-{mode}.log")

    seconds: dict[str, list[float]] = {mode: [] for mode in modes}
    parts: list[dict[str, float]] = []
    for i in range(args.runs):
        line = []
        for mode in modes:
            if mode == "plain":
                start = time.perf_counter()
                subprocess.run(dbt, env=env, check=True, capture_output=True)
                seconds[mode].append(time.perf_counter() - start)
            else:
                log = args.logs / f"run{i + 1}-{mode}.log"
                dags_test(env | {"DBT_EXECUTION_MODE": mode}, log)
                stage = dbt_stage(folder / "airflow" / "airflow.db")
                seconds[mode].append(stage["stage"])
                if mode == "watcher":
                    parts.append(stage)
            line.append(f"({mode}) {seconds[mode][-1]:.1f}s")
        print(f"  run {i + 1}: " + "   ".join(line), flush=True)

    floor = airflow_floor(env, folder, int(parts[0]["mirror_tasks"])) if parts else None

    medians = {mode: statistics.median(values) for mode, values in seconds.items()}
    print("  medians: " + "   ".join(f"({m}) {s:.1f}s" for m, s in medians.items()))
    if "plain" in medians:
        for mode in ("watcher", "local"):
            if mode in medians:
                print(
                    f"  {mode}/plain = {medians[mode] / medians['plain']:.2f}"
                    + (
                        f"   (the DAG's dbt stage vs one plain dbt build; target <= {TARGET})"
                        if mode == "watcher"
                        else ""
                    )
                )
    if parts:
        producer = statistics.median(p["producer"] for p in parts)
        mirrors = statistics.median(p["mirrors"] for p in parts)
        count = int(parts[0]["mirror_tasks"])
        print(
            f"  watcher: producer task (the one dbt build) {producer:.1f}s, then {count} tasks mirroring "
            f"its results {mirrors:.1f}s ({1000 * mirrors / max(count, 1):.0f} ms each)"
        )
        if "plain" in medians:
            print(
                f"  watcher - plain = {medians['watcher'] - medians['plain']:.1f}s of fixed cost: the producer's "
                f"{producer - medians['plain']:+.1f}s over plain dbt, and the mirroring tasks"
            )
    if floor is not None:
        count, span = floor
        print(
            f"  Airflow's floor: {count} no-op tasks under `airflow dags test` take {span:.1f}s "
            f"({1000 * span / count:.0f} ms each), the same runner's cost per task with no work in it"
        )
    print(f"  logs of the Airflow runs: {args.logs}")


def dags_test(env: dict[str, str], log: Path) -> None:
    with log.open("wb") as out:
        result = subprocess.run(
            # the same conf as the first load of the day (a full extract), so raw holds what it held
            [str(BIN / "airflow"), "dags", "test", "etl_pipeline", DS, "-c", '{"full_extract": true}'],
            env=env, stdout=out, stderr=subprocess.STDOUT, timeout=3600,
        )  # fmt: skip
    text = log.read_text(errors="replace")
    if result.returncode != 0 or "state=success" not in text.split("DagRun Finished")[-1]:
        failed = [line for line in text.splitlines() if "failed for ds=" in line]
        sys.exit(f"the DAG run failed (log: {log}):\n" + "\n".join(failed or [text[-3000:]]))


FLOOR_DAG = """
import pendulum
from airflow.sdk import DAG, task

with DAG("bench_airflow_floor", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), schedule=None):
    @task
    def noop() -> None:
        return None

    previous = None
    for i in range({count}):
        current = noop.override(task_id=f"noop_{{i}}")()
        if previous is not None:
            previous >> current
        previous = current
"""


def airflow_floor(env: dict[str, str], folder: Path, count: int) -> tuple[int, float]:
    """Span of ``count`` no-op tasks run by ``airflow dags test`` (first start to last end)."""
    dags = folder / "floor_dags"
    dags.mkdir(exist_ok=True)
    (dags / "bench_airflow_floor.py").write_text(FLOOR_DAG.format(count=count))
    floor_env = env | {"AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    subprocess.run(
        [str(BIN / "airflow"), "dags", "test", "bench_airflow_floor", DS],
        env=floor_env, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    with sqlite3.connect(folder / "airflow" / "airflow.db") as conn:
        first, last = conn.execute(
            "select min(julianday(start_date)), max(julianday(end_date)) from task_instance "
            "where dag_id = 'bench_airflow_floor'"
        ).fetchone()
    return count, (last - first) * 86_400


def dbt_stage(metadata_db: Path) -> dict[str, float]:
    """Span of the latest run's dbt.* tasks (and, for the watcher, of its producer and of the
    tasks after it), from the Airflow metadata database (SQLite)."""
    with sqlite3.connect(metadata_db) as conn:
        run_id = conn.execute(
            "select run_id from dag_run where dag_id = 'etl_pipeline' order by id desc limit 1"
        ).fetchone()[0]
        rows = conn.execute(
            "select task_id, julianday(start_date), julianday(end_date) from task_instance "
            "where dag_id = 'etl_pipeline' and run_id = ? and task_id like 'dbt.%' and start_date is not null",
            (run_id,),
        ).fetchall()
    first, last = min(r[1] for r in rows), max(r[2] for r in rows)
    producer = [r for r in rows if r[0] == "dbt.dbt_producer_watcher"]
    facts = {"stage": (last - first) * 86_400}
    if producer:
        _, p_start, p_end = producer[0]
        after = [r for r in rows if r[1] >= p_end]
        facts |= {
            "producer": (p_end - p_start) * 86_400,
            "mirrors": (last - p_end) * 86_400,
            "mirror_tasks": float(len(after)),
        }
    return facts


if __name__ == "__main__":
    main()
