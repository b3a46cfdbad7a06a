"""``make run``'s view of one DAG run: ``airflow dags test``, followed stage by stage.

Runs ``airflow dags test etl_pipeline <ds>`` with its full log in a file, and meanwhile reads
the run from the Airflow metadata database (the task instances, their XComs and the results
the dbt producer publishes as each dbt node ends) to print what a person follows::

    extract  customers     2,000 rows (full)
    load     customers     2,000 rows, 0 rejected
    land     interactions  20,000 read, 19,962 loaded, 38 rejected
    dbt      12 of 35 models built, tests of 9 of 33 nodes passed, 0 failed
    ...
    DAG run  success in 41 s

It exits with the run's outcome (1 when a task failed or the run did not succeed), naming the
failed tasks and the log. ``--timeout`` ends a run that takes too long (killing the process
group) and says so: the command always finishes.

    python -m scripts.run_day --ds 2026-11-20 [--conf '{"full_extract": true}'] [--log FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.airflow_env import BIN, PROJECT_DIR, airflow_env, airflow_home

DAG_ID = "etl_pipeline"
PRODUCER = "dbt.dbt_producer_watcher"
MANIFEST = PROJECT_DIR / "dbt_project" / "target" / "manifest.json"
FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}
WAIT_MARK = b"waiting up to"  # logged by orchestration.drop_sensor when it defers


def environment() -> dict[str, str]:
    """The ``airflow dags test`` process's environment: the project's Airflow settings for AIRFLOW_HOME."""
    return airflow_env(airflow_home())


def dbt_totals() -> tuple[int, int]:
    """Models (and snapshots, seeds) of the project, and the nodes that have tests (models and
    sources: the producer reports each one's tests as one verdict), from the manifest the DAG
    renders."""
    try:
        nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    except (OSError, ValueError, KeyError):
        return 0, 0
    kinds = Counter(node["resource_type"] for node in nodes)
    tested = {
        parent
        for node in nodes
        if node["resource_type"] == "test"
        for parent in node.get("depends_on", {}).get("nodes", [])
        if parent.split(".", 1)[0] in ("model", "snapshot", "seed", "source")
    }
    return kinds["model"] + kinds["snapshot"] + kinds["seed"], len(tested)


@dataclass
class Follower:
    """Reads one run's progress from the metadata DB and prints each new fact once.

    dbt nodes: the producer publishes an XCom ``<kind>__<project>__<name>_status`` per model (or
    snapshot, seed) as it ends, ``{"status": "success" | "failed" | ...}``, and
    ``<kind>__<project>__<name>_tests_status`` once all of a node's tests have ended, ``"pass"``
    or ``"fail"`` (Cosmos ExecutionMode.WATCHER, the producer reading dbt's JSON log).
    """

    engine: Any
    earlier_runs: set[str]  # the run ids there were before this run
    models_total: int
    tests_total: int
    run_id: str | None = None
    log_path: Path | None = None
    log_offset: int = 0
    reported: set[str] = field(default_factory=set)
    dbt_line: str = ""
    dbt_line_at: float = 0.0

    def say(self, text: str) -> None:
        print(text, flush=True)

    def poll(self) -> str | None:
        """Print what is new; return the run's state once it has ended."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            if self.run_id is None:
                # `dags test` replaces the run of the same day: a run id not seen before
                new = [
                    run_id
                    for (run_id,) in conn.execute(
                        text("select run_id from dag_run where dag_id = :dag order by id desc"),
                        {"dag": DAG_ID},
                    )
                    if run_id not in self.earlier_runs
                ]
                if not new:
                    return None
                self.run_id = new[0]
            tasks = conn.execute(
                text("select task_id, state from task_instance where dag_id = :dag and run_id = :run"),
                {"dag": DAG_ID, "run": self.run_id},
            ).all()
            results = {
                task_id: value
                for task_id, value in conn.execute(
                    text(
                        "select task_id, value from xcom where dag_id = :dag and run_id = :run "
                        "and key = 'return_value'"
                    ),
                    {"dag": DAG_ID, "run": self.run_id},
                ).all()
            }
            nodes = conn.execute(
                text(
                    "select key, value from xcom where dag_id = :dag and run_id = :run "
                    "and task_id = :producer and key like '%\\_status' escape '\\'"
                ),
                {"dag": DAG_ID, "run": self.run_id, "producer": PRODUCER},
            ).all()
            state = conn.execute(
                text("select state from dag_run where dag_id = :dag and run_id = :run"),
                {"dag": DAG_ID, "run": self.run_id},
            ).scalar()
        states = {task_id: (task_state or "") for task_id, task_state in tasks}
        self._waits(states)
        self._loads(states, results)
        self._dbt(states, nodes)
        if states.get("dbt_docs") == "success" and "docs" not in self.reported:
            self.reported.add("docs")
            self.say("  docs     dbt docs generated and published")
        return state if state in ("success", "failed") else None

    def _waits(self, states: dict[str, str]) -> None:
        """The drop sensor waiting: deferred to the triggerer, or (``airflow dags test``, which
        runs the trigger inline) its log line saying so."""
        if "waiting" in self.reported:
            return
        waiting = states.get("interactions.wait_for_drop") == "deferred"
        if not waiting and self.log_path is not None and self.log_path.exists():
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                chunk = log.read()
            cut = chunk.rfind(b"\n") + 1
            self.log_offset += cut
            waiting = WAIT_MARK in chunk[:cut]
        if waiting:
            self.reported.add("waiting")
            self.say("  wait     the day's interactions file is not in the drop yet: waiting for it")

    def _loads(self, states: dict[str, str], results: dict[str, Any]) -> None:
        for task_id, state in sorted(states.items()):
            group, _, name = task_id.partition(".")
            if group not in ("shop", "interactions") or task_id in self.reported:
                continue
            if state not in FINISHED:
                continue
            self.reported.add(task_id)
            value = _json(results.get(task_id))
            if state != "success":
                self.say(f"  {name.split('_')[0]:<8} {task_id}: {state}")
            elif name.startswith("extract_"):
                self.say(
                    f"  extract  {name[8:]:<13} {value.get('rows', 0):>9,} rows ({value.get('mode', '?')})"
                )
            elif name.startswith("load_"):
                self.say(
                    f"  load     {name[5:]:<13} {value.get('rows_loaded', 0):>9,} rows, "
                    f"{value.get('rows_rejected', 0):,} rejected"
                )
            elif name == "land_interactions":
                self.say(
                    f"  land     {'interactions':<13} {value.get('rows_read', 0):>9,} read, "
                    f"{value.get('rows_loaded', 0):,} loaded, {value.get('rows_rejected', 0):,} rejected"
                )
            elif name == "wait_for_drop":
                self.say(f"  found    {value if isinstance(value, str) else 'the interactions file'}")

    def _dbt(self, states: dict[str, str], nodes: list[tuple[str, Any]]) -> None:
        dbt_tasks = {t: s for t, s in states.items() if t.startswith("dbt.") and not t.startswith(PRODUCER)}
        built: Counter[str] = Counter()
        for key, value in nodes:
            status = _json(value)
            status = status.get("status") if isinstance(status, dict) else status
            kind = key.split("__", 1)[0]
            if key.endswith("_tests_status"):
                built["tests passed" if status == "pass" else "tests failed"] += 1
            elif kind in ("model", "snapshot", "seed") and status == "success":
                built["model built"] += 1
            elif kind in ("model", "snapshot", "seed") and status in ("failed", "error"):
                built["model failed"] += 1
        now = time.monotonic()
        if nodes:
            line = (
                f"  dbt      {built['model built']} of {self.models_total} models built, "
                f"tests of {built['tests passed']} of {self.tests_total} nodes passed, "
                f"{built['model failed'] + built['tests failed']} failed"
            )
            done = states.get(PRODUCER) in FINISHED
            if line != self.dbt_line and (done or now - self.dbt_line_at >= 3):
                self.dbt_line, self.dbt_line_at = line, now
                self.say(line)
        if dbt_tasks and all(s in FINISHED for s in dbt_tasks.values()) and "dbt tasks" not in self.reported:
            self.reported.add("dbt tasks")
            counts = Counter(dbt_tasks.values())
            detail = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            self.say(f"  dbt      {len(dbt_tasks)} Airflow tasks done: {detail}")


def _json(value: Any) -> Any:
    if isinstance(value, (bytes, str)):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return value if value is not None else {}


def _run_ids(engine: Any) -> set[str]:
    from sqlalchemy import text

    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text("select run_id from dag_run"))}
    except Exception:  # a metadata DB not migrated yet: `airflow dags test` says so in its log
        return set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ds", required=True)
    parser.add_argument("--conf", default="{}", help="the run's params as JSON")
    parser.add_argument("--log", type=Path, help="the full log (default .local/logs/dags-test-<ds>.log)")
    parser.add_argument("--timeout", type=float, default=1800, help="end the run after this many seconds")
    args = parser.parse_args(argv)
    log_path = args.log or PROJECT_DIR / ".local" / "logs" / f"dags-test-{args.ds}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    from sqlalchemy import create_engine

    env = environment()
    engine = create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    models_total, tests_total = dbt_totals()
    airflow = str(BIN / "airflow")
    print(f"== airflow dags test {DAG_ID} {args.ds}  (full log: {_shown(log_path)})", flush=True)
    earlier_runs = _run_ids(engine)
    started = time.time()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [airflow, "dags", "test", DAG_ID, args.ds, "-c", args.conf],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        follower = Follower(engine, earlier_runs, models_total, tests_total, log_path=log_path)
        state = None
        try:
            while True:
                ended = process.poll() is not None
                with suppress(Exception):  # the run's tables may not exist yet on a fresh metadata DB
                    state = follower.poll() or state
                if ended:
                    break
                if time.time() - started > args.timeout:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    print(
                        f"  the run took more than {args.timeout:.0f} s and was stopped; see {_shown(log_path)}"
                    )
                    return 1
                time.sleep(0.5)
        except KeyboardInterrupt:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise
    seconds = time.time() - started
    failed = _failed_tasks(engine, follower.run_id)
    for task_id in failed:
        print(f"  FAILED   {task_id}: see {_shown(log_path)} (search for 'failed for ds=')")
    outcome = state or ("failed" if process.returncode else "unknown")
    print(f"  DAG run  {outcome} in {seconds:.0f} s", flush=True)
    return 0 if outcome == "success" and process.returncode == 0 and not failed else 1


def _failed_tasks(engine: Any, run_id: str | None) -> list[str]:
    if run_id is None:
        return []
    from sqlalchemy import text

    with engine.connect() as conn:
        return [
            row[0]
            for row in conn.execute(
                text(
                    "select task_id from task_instance where dag_id = :dag and run_id = :run "
                    "and state = 'failed' order by task_id"
                ),
                {"dag": DAG_ID, "run": run_id},
            )
        ]


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
