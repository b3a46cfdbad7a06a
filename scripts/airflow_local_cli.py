"""The ``make airflow*`` commands: scripts/airflow_local.py's processes, then the ``airflow`` CLI.

``start``/``stop``/``status`` run and stop the local Airflow; ``unpause``, ``trigger`` (a day, then
``airflow dags state`` until it ends and ``airflow tasks states-for-dag-run``) and ``cli`` (any
``airflow`` command) act on it with Airflow's own CLI, against its metadata database.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from loaders.config import Settings
from scripts.airflow_local import (
    AIRFLOW,
    COMPONENTS,
    DAG_ID,
    PROJECT_DIR,
    AirflowLocalError,
    LocalAirflow,
)


def dag(local: LocalAirflow) -> dict[str, str]:
    """``airflow dags details`` of the DAG; every value is text (``is_paused``: ``True`` or ``False``)."""
    try:
        return printed_json(local.airflow("dags", "details", DAG_ID, "--output", "json"))[0]
    except AirflowLocalError:
        raise AirflowLocalError(
            f"Airflow does not know DAG {DAG_ID} (yet): `make airflow-cli ARGS='dags list-import-errors'` says why"
        ) from None


def trigger(local: LocalAirflow, ds: str, conf: Mapping[str, object] | None = None) -> str:
    """``airflow dags trigger`` for day ``ds`` (its logical date) with params ``conf``; the run's id."""
    run_id = f"manual__{ds}T00:00:00+00:00"
    try:
        local.airflow("dags", "trigger", DAG_ID, "--logical-date", f"{ds}T00:00:00+00:00", "--run-id", run_id,
                      "--conf", json.dumps(conf or {}))  # fmt: skip
    except AirflowLocalError as err:
        if "already exist" in str(err) or "duplicate key" in str(err):
            raise AirflowLocalError(
                f"{DAG_ID} already has a run for {ds}: see it in the UI, or re-run it: "
                f"make airflow-cli ARGS='tasks clear {DAG_ID} -s {ds} -e {ds}'"
            ) from None
        raise
    return run_id


def task_states(local: LocalAirflow, run_id: str) -> dict[str, str | None]:
    rows = printed_json(local.airflow("tasks", "states-for-dag-run", DAG_ID, run_id, "--output", "json"))
    return {row["task_id"]: row["state"] or None for row in rows}


def wait_for_run(local: LocalAirflow, run_id: str, timeout: float = 1800, poll: float = 10) -> str:
    """``airflow dags state`` until the run succeeded or failed (each poll starts an ``airflow`` process)."""
    deadline = time.monotonic() + timeout
    # it prints the state, followed by the run's conf if it has one: "failed, {...}"
    while (state := local.airflow("dags", "state", DAG_ID, run_id).splitlines()[-1].split(",")[0]) not in (
        "success",
        "failed",
    ):
        if time.monotonic() > deadline:
            raise AirflowLocalError(f"run {run_id} is still {state} after {timeout:.0f}s: see the UI")
        time.sleep(poll)
    return state


def postgres_metadata_db(home: Path, settings: Settings | None = None, create: bool = True) -> str:
    """The SQLAlchemy URL of database ``airflow`` on the embedded PostgreSQL; ``create`` makes (or updates) it.

    Its role's password is generated once into ``home/local-secrets.json`` (readable by you only)."""
    import psycopg
    from psycopg import sql

    from loaders import local_stack

    settings, path = settings or Settings.from_env(), home / "local-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    if not (password := stored.get("metadata_db_password")):
        password = stored["metadata_db_password"] = secrets.token_urlsafe(24)
        home.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as secrets_file:
            json.dump(stored, secrets_file)
    if create:
        local_stack.up(settings)  # reuses a running server
        with psycopg.connect(local_stack.superuser_conninfo(settings), autocommit=True) as conn:
            verb = (
                "alter"
                if conn.execute("select 1 from pg_roles where rolname = 'airflow'").fetchone()
                else "create"
            )
            conn.execute(
                sql.SQL("{} role airflow login password {}").format(sql.SQL(verb), sql.Literal(password))
            )
            if not conn.execute("select 1 from pg_database where datname = 'airflow'").fetchone():
                conn.execute("create database airflow owner airflow")
    return (
        f"postgresql+psycopg2://airflow:{password}@{settings.local_pg_host}:{settings.local_pg_port}/airflow"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.airflow_local_cli", description=__doc__)
    parser.add_argument(
        "--port", type=int, help="the api-server's port (default: the running one's, else 8080)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start", help="start Airflow and wait until it is ready")
    commands.add_parser("stop", help="stop every process `start` started")
    commands.add_parser("status", help="which components run, and Airflow's health")
    commands.add_parser("unpause", help=f"unpause {DAG_ID}")
    run = commands.add_parser("trigger", help=f"run {DAG_ID} for a day, wait for the outcome")
    run.add_argument("--ds", required=True, help="the day, YYYY-MM-DD")
    run.add_argument("--conf", default="{}", help="the run's params as JSON, e.g. '{\"full_extract\": true}'")
    run.add_argument("--no-wait", action="store_true")
    commands.add_parser("cli", help="an airflow command").add_argument(
        "airflow_args", nargs=argparse.REMAINDER
    )
    args = parser.parse_args(argv)
    home = Path(os.environ.get("AIRFLOW_HOME") or PROJECT_DIR / ".local" / "airflow").resolve()
    try:
        api_server = LocalAirflow(home).running().get("api-server")
        listening = (
            [c.laddr.port for c in api_server.net_connections() if c.status == "LISTEN"] if api_server else []
        )
        port = args.port or next(iter(listening), 8080)  # default: the running api-server's
        # the metadata DB: only where an airflow command needs it (start creates it when missing)
        needs_db = args.command in ("start", "unpause", "trigger", "cli")
        url = postgres_metadata_db(home, create=args.command == "start") if needs_db else None
        local = LocalAirflow(home, port, metadata_db_url=url)
        if args.command == "stop":
            stopped = local.stop()
            print(f"== stopped {', '.join(stopped)}" if stopped else "== Airflow was not running")
        elif args.command == "status":
            running = local.running()
            for name in dict.fromkeys([*COMPONENTS, *running]):
                print(f"   {name:14} {f'pid {running[name].pid}' if name in running else 'not running'}")
            if running:
                print(f"   health: {httpx.get(f'{local.base_url}/api/v2/monitor/health', timeout=5).json()}")
        elif args.command == "cli":
            return subprocess.run(
                [AIRFLOW, *args.airflow_args], env=local.environment(), cwd=PROJECT_DIR
            ).returncode
        else:
            return {"start": _start, "unpause": _unpause, "trigger": _trigger}[args.command](local, args)
        return 0
    except (AirflowLocalError, httpx.HTTPError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _start(local: LocalAirflow, args: argparse.Namespace) -> int:
    running = local.running()
    if running and set(running) != set(COMPONENTS):
        raise AirflowLocalError(f"only {', '.join(running)} of Airflow run: `make airflow-stop` first")
    if not running:
        print("== metadata DB: database airflow on the embedded PostgreSQL; airflow db migrate")
        local.airflow("db", "migrate")
        print(
            f"== starting {', '.join(COMPONENTS)} on {local.base_url} (logs: {local.home / 'logs'}/<name>.log)"
        )
        local.start()
    paused = dag(local)["is_paused"] == "True"
    print(
        f"== Airflow {'already runs' if running else 'is up'}: DAG {DAG_ID} {'paused' if paused else 'active'}"
    )
    print(f"   UI:        {local.base_url}")
    print(f"   login:     admin / {local.admin_password()}   (from {local.passwords_file})")
    print(f"   dbt docs:  {local.base_url}/plugin/dbt-docs   (Browse > dbt Docs)")
    print("   unpause:   make airflow-unpause   run a day: make airflow-trigger DS=YYYY-MM-DD")
    print("   stop:      make airflow-stop")
    return 0


def _unpause(local: LocalAirflow, args: argparse.Namespace) -> int:
    next_day = dag(local).get("next_dagrun_logical_date")
    local.airflow("dags", "unpause", DAG_ID)
    print(f"== {DAG_ID} is unpaused")
    if next_day:
        print(
            f"   the scheduler runs it for {next_day[:10]} next (its CSV must be in the drop folder: make sample DS=...)"
        )
    return 0


def _trigger(local: LocalAirflow, args: argparse.Namespace) -> int:
    if dag(local)["is_paused"] == "True":
        raise AirflowLocalError(f"{DAG_ID} is paused, so a run would wait: `make airflow-unpause` first")
    try:
        conf = json.loads(args.conf)
    except ValueError:
        raise AirflowLocalError(f"--conf must be a JSON object, got {args.conf!r}") from None
    run_id, started = trigger(local, args.ds, conf), time.monotonic()
    print(f"== triggered {DAG_ID} for {args.ds} (conf {json.dumps(conf)}): run {run_id}")
    print(f"   {local.base_url}/dags/{DAG_ID}/runs/{run_id}")
    if args.no_wait:
        return 0
    state = wait_for_run(local, run_id)
    for task_id, task_state in sorted(task_states(local, run_id).items()):
        print(f"   {task_state or 'none':16} {task_id}")
    print(f"== run {run_id}: {state} in {time.monotonic() - started:.0f}s")
    return 0 if state == "success" else 1


def printed_json(output: str) -> list[dict[str, str]]:
    """What an ``airflow ... --output json`` command printed (its last line that is JSON)."""
    rows: list[dict[str, str]] = json.loads(
        next(line for line in reversed(output.splitlines()) if line.startswith("["))
    )
    return rows


if __name__ == "__main__":
    sys.exit(main())
