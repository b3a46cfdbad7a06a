"""The ``make airflow*`` commands: scripts/airflow_local.py's daemons, then Airflow's own CLI.

``start``/``stop``/``status`` run and stop the local Airflow (metadata DB: ``airflow`` on the embedded
PostgreSQL, which ``make up`` creates); ``trigger`` runs a day (``airflow dags trigger``, then ``dags
state`` until it ends and ``tasks states-for-dag-run``); ``cli`` runs any ``airflow`` command against it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

import httpx

from loaders.config import PostgresTarget, Settings
from loaders.errors import LoaderError
from scripts.airflow_env import PROJECT_DIR, airflow_home
from scripts.airflow_local import AIRFLOW, COMPONENTS, DAG_ID, AirflowLocalError, LocalAirflow


def dag(local: LocalAirflow) -> dict[str, str]:
    """``airflow dags details`` of the DAG; every value is text (``is_paused``: ``True`` or ``False``)."""
    try:
        return printed_json(local.airflow("dags", "details", DAG_ID, "--output", "json"))[0]
    except AirflowLocalError:
        raise AirflowLocalError(
            f"Airflow does not know DAG {DAG_ID} (yet): `make airflow-cli ARGS='dags list-import-errors'` says why"
        ) from None


def wait_for_dag(local: LocalAirflow, timeout: float = 300) -> dict[str, str]:
    """``dag`` once the DAG processor has registered the DAG."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return dag(local)
        except AirflowLocalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


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


def printed_json(output: str) -> list[dict[str, str]]:
    """What an ``airflow ... --output json`` command printed (its last line that is JSON)."""
    rows: list[dict[str, str]] = json.loads(
        next(line for line in reversed(output.splitlines()) if line.startswith("["))
    )
    return rows


def admin_password(local: LocalAirflow) -> str:
    """The password the api-server generated for user admin at its first start."""
    try:
        password: str = json.loads(local.passwords_file.read_text())["admin"]
    except (OSError, ValueError, KeyError):
        raise AirflowLocalError(
            f"no password for admin in {local.passwords_file}: start Airflow first"
        ) from None
    return password


def metadata_db_url(target: PostgresTarget) -> str:
    """The SQLAlchemy URL of a metadata DB (the local Airflow's: settings.airflow_db, AIRFLOW_DB_*)."""
    return target.url().replace("postgresql://", "postgresql+psycopg2://", 1)


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
    commands.add_parser("cli", help="an airflow command").add_argument(
        "airflow_args", nargs=argparse.REMAINDER
    )
    args = parser.parse_args(argv)
    home = airflow_home()
    try:
        api_server = LocalAirflow(home).running().get("api-server")
        listening = (
            [c.laddr.port for c in api_server.net_connections() if c.status == "LISTEN"] if api_server else []
        )
        port = args.port or next(iter(listening), 8080)  # default: the running api-server's
        # stop and status need no database (and no setting that could be wrong)
        url = (
            metadata_db_url(Settings.from_env().airflow_db)
            if args.command not in ("stop", "status")
            else None
        )
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
        elif args.command == "start":
            return _start(local)
        elif args.command == "unpause":
            next_day = dag(local).get("next_dagrun_logical_date")
            local.airflow("dags", "unpause", DAG_ID)
            print(f"== {DAG_ID} is unpaused")
            if next_day:  # Airflow prints the DAG's state from before the change
                print(
                    f"   the scheduler runs it for {next_day[:10]} next (its CSV must be in the drop folder: make sample DS=...)"
                )
        else:
            return _trigger(local, args.ds, args.conf)
        return 0
    except (AirflowLocalError, LoaderError, httpx.HTTPError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _start(local: LocalAirflow) -> int:
    running = local.running()
    if running and set(running) != set(COMPONENTS):
        raise AirflowLocalError(f"only {', '.join(running)} of Airflow run: `make airflow-stop` first")
    if not running:
        print(
            f"== metadata DB: {local.metadata_db_url and local.metadata_db_url.split('@')[-1]}; airflow db migrate"
        )
        local.airflow("db", "migrate")
        print(
            f"== starting {', '.join(COMPONENTS)} on {local.base_url} (logs: {local.home / 'logs'}/<name>.log)"
        )
        local.start()
    paused = wait_for_dag(local)["is_paused"] == "True"
    admin_password(local)  # the api-server wrote it
    print(
        f"== Airflow {'already runs' if running else 'is up'}: DAG {DAG_ID} {'paused' if paused else 'active'}"
    )
    print(f"   UI:        {local.base_url}")
    # the password stays in its file (yours only), out of terminal scrollback and CI logs
    print(f"   login:     admin, password in {local.passwords_file}")
    print(f"   dbt docs:  {local.base_url}/plugin/dbt-docs   (Browse > dbt Docs)")
    print("   unpause:   make airflow-unpause   run a day: make airflow-trigger DS=YYYY-MM-DD")
    print("   stop:      make airflow-stop")
    return 0


def _trigger(local: LocalAirflow, ds: str, conf_text: str) -> int:
    if dag(local)["is_paused"] == "True":
        raise AirflowLocalError(f"{DAG_ID} is paused, so a run would wait: `make airflow-unpause` first")
    try:
        conf = json.loads(conf_text)
    except ValueError:
        raise AirflowLocalError(f"--conf must be a JSON object, got {conf_text!r}") from None
    run_id, started = trigger(local, ds, conf), time.monotonic()
    print(f"== triggered {DAG_ID} for {ds} (conf {json.dumps(conf)}): run {run_id}")
    print(f"   {local.base_url}/dags/{DAG_ID}/runs/{run_id}")
    state = wait_for_run(local, run_id)
    for task_id, task_state in sorted(task_states(local, run_id).items()):
        print(f"   {task_state or 'none':16} {task_id}")
    print(f"== run {run_id}: {state} in {time.monotonic() - started:.0f}s")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
