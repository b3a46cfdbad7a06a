"""`make airflow`: Airflow 3's components as local processes (scripts/airflow_local.py).

The full-stack test starts the four components the way `make airflow` does (metadata database
`airflow` on a PostgreSQL server, LocalExecutor), has the scheduler run the DAG's first task for a
day, and checks that stopping leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from loaders.config import Settings
from loaders.sample_data import write_interactions_csv
from scripts.airflow_local import COMPONENTS, DAG_ID, AirflowLocalError, LocalAirflow
from scripts.airflow_local_cli import admin_password, dag, metadata_db_url, printed_json, task_states, trigger
from tests.conftest import PROJECT_DIR, env_for, free_port, serving


def test_start_refuses_a_port_another_program_uses(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        local = LocalAirflow(home=tmp_path, port=taken.getsockname()[1])
        with pytest.raises(AirflowLocalError, match="is taken by another program"):
            local.start()
    assert local.running() == {}
    assert not list(local.pids_dir.glob("*.pid"))


def test_stop_ends_a_component_and_every_process_it_started(tmp_path: Path) -> None:
    local = LocalAirflow(home=tmp_path)
    local.pids_dir.mkdir(parents=True)
    # a component that starts children of its own (as the scheduler starts executor workers)
    leader = subprocess.Popen(
        ["bash", "-c", "sleep 300 & sleep 300 & wait"], start_new_session=True, stdin=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while len(psutil.Process(leader.pid).children()) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        processes = [psutil.Process(leader.pid), *psutil.Process(leader.pid).children()]
        (local.pids_dir / "scheduler.pid").write_text(f"{leader.pid}\n")
        assert set(local.running()) == {"scheduler"}

        assert local.stop(grace=10) == ["scheduler"]

        leader.wait(timeout=10)
        assert not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert local.running() == {}
        assert not list(local.pids_dir.glob("*.pid"))
    finally:
        if leader.poll() is None:
            os.killpg(leader.pid, 9)


def test_stop_ends_what_a_dead_daemon_left_running_in_its_session(tmp_path: Path) -> None:
    """A component that died (as a daemon's session leader exits at once) leaves its children
    running; stop() finds them by the session launch() recorded, and start() stops them first."""
    local = LocalAirflow(home=tmp_path)
    local.pids_dir.mkdir(parents=True)
    leader = subprocess.Popen(
        ["bash", "-c", "sleep 300 & sleep 300 & echo started"], start_new_session=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert leader.stdout and leader.stdout.readline() == "started\n"
    leader.wait(timeout=10)
    orphans = [p for p in psutil.process_iter() if _session_of(p) == leader.pid]
    try:
        assert len(orphans) == 2, orphans  # the leader is gone; its two children are not
        (local.pids_dir / "scheduler.pid").write_text(f"{leader.pid}\n")
        (local.pids_dir / "scheduler.sid").write_text(f"{leader.pid}\n")
        assert local.running() == {}

        local.stop(grace=10)

        psutil.wait_procs(orphans, timeout=10)
        assert not [p for p in orphans if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not list(local.pids_dir.iterdir())
    finally:
        for orphan in orphans:
            with contextlib.suppress(psutil.Error):
                orphan.kill()


def _session_of(process: psutil.Process) -> int | None:
    with contextlib.suppress(OSError, psutil.Error):
        return os.getsid(process.pid)
    return None


@pytest.mark.e2e
def test_make_airflow_runs_each_component_and_the_scheduler_runs_the_dag(
    settings: Settings, tmp_path: Path
) -> None:
    home = tmp_path / "airflow"
    local = LocalAirflow(
        home=home,
        port=free_port(),
        metadata_db_url=metadata_db_url(settings.airflow_db),
        base_env=env_for(settings, AIRFLOW__COSMOS__CACHE_DIR=str(tmp_path / "cosmos_cache")),
    )
    with serving(local, COMPONENTS, timeout=300):
        processes = local.running()
        assert set(processes) == set(COMPONENTS)
        assert local.environment()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        # every socket the components listen on is on the loopback interface
        listening = [
            c.laddr
            for p in processes.values()
            for member in [p, *p.children(recursive=True)]
            for c in member.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening

        details = dag(local)
        assert details["is_paused"] == "True", "a new DAG must start paused"
        # `make airflow` on a running Airflow: its banner says where the login is, never the password
        banner = subprocess.run(
            [sys.executable, "-m", "scripts.airflow_local_cli", "start"], env=local.base_env | {"AIRFLOW_HOME": str(home)},
            cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert banner.returncode == 0, banner.stderr
        assert "== Airflow already runs: DAG etl_pipeline paused" in banner.stdout
        assert f"login:     admin, password in {local.passwords_file}" in banner.stdout
        assert admin_password(local) not in banner.stdout + banner.stderr
        # a run for the day the scheduler would pick next, so unpausing adds no other run
        ds = details["next_dagrun_logical_date"][:10]
        write_interactions_csv(settings.interactions_drop_file(ds), ds, rows=500)
        run_id = trigger(local, ds)
        local.airflow("dags", "unpause", DAG_ID)
        assert dag(local)["is_paused"] == "False"

        deadline = time.monotonic() + 400
        while (state := task_states(local, run_id).get("interactions.land_interactions")) != "success":
            assert state not in ("failed", "upstream_failed"), f"land_interactions {state}"
            assert time.monotonic() < deadline, f"land_interactions still {state}"
            time.sleep(2)
        runs = printed_json(local.airflow("dags", "list-runs", DAG_ID, "--output", "json"))
        assert [r["run_id"] for r in runs] == [run_id]
        all_processes = [q for p in processes.values() for q in [p, *p.children(recursive=True)]]

    # stopped mid-run: no component, worker or task process is left
    time.sleep(1)
    assert not [p for p in all_processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert local.running() == {}
