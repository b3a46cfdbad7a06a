"""Airflow 3's own components as local processes, with only the glue Airflow's commands lack.

``airflow api-server``, ``scheduler``, ``dag-processor`` and ``triggerer`` run in the background on
127.0.0.1, each in a session of its own; ``start`` waits for Airflow's health endpoint (and the DAG),
``stop`` ends each one with every process it started. ``airflow standalone`` does not fit: it serves
task logs on every interface (no ``--skip-serve-logs``), forces the LocalExecutor and always runs
all four components. In ``home``: ``airflow.cfg`` (Airflow writes it, mode 0600, with the Fernet key
and the secrets every component shares), ``pids/<name>.pid``, ``logs/<name>.log`` and the admin's
password (the api-server generates it at first start). ``make airflow*``: scripts/airflow_local_cli.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

PROJECT_DIR = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).parent / "airflow")
DAG_ID = "etl_pipeline"
# each component's command; no log servers (they would listen on every interface: the UI reads logs/)
COMMANDS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler", "--skip-serve-logs"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer", "--skip-serve-logs"],
}
COMPONENTS = tuple(COMMANDS)


class AirflowLocalError(Exception):
    """A failure with a message meant for the person running the command."""


@dataclass(frozen=True)
class LocalAirflow:
    """One local Airflow installation: its home folder, port and metadata database."""

    home: Path
    port: int = 8080
    metadata_db_url: str | None = None  # None: a SQLite file in home
    # the processes' environment; the executor is Airflow's default (LocalExecutor) unless it says otherwise
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pids_dir(self) -> Path:
        return self.home / "pids"

    @property
    def passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    def log_file(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def environment(self) -> dict[str, str]:
        """The environment of every Airflow process and CLI command of this installation."""
        env = {
            "DBT_PROJECT_DIR": str(PROJECT_DIR / "dbt_project"),
            "AIRFLOW__COSMOS__CACHE_DIR": str(self.home / "cosmos_cache"),
        }
        env |= self.base_env
        return env | {
            "AIRFLOW_HOME": str(self.home),
            "PYTHONPATH": str(PROJECT_DIR),
            "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_db_url
            or f"sqlite:///{self.home}/airflow.db",
            "AIRFLOW__CORE__PARALLELISM": "4",  # task slots: the machine has few cores
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "airflow_plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,  # also where tasks find the execution API
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def airflow(self, *args: str) -> str:
        """``airflow <args>`` against this installation: its output, or an error showing how it ended."""
        done = subprocess.run(
            [AIRFLOW, *args], env=self.environment(), cwd=PROJECT_DIR, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise AirflowLocalError(f"`airflow {' '.join(args)}` failed:\n{_tail(done.stderr + done.stdout)}")
        return done.stdout

    def admin_password(self) -> str:
        with suppress(OSError, ValueError, KeyError):
            password: str = json.loads(self.passwords_file.read_text())["admin"]
            return password
        raise AirflowLocalError(f"no password for admin in {self.passwords_file} yet: start Airflow first")

    def launch(self, name: str, *command: str) -> None:
        """``airflow <command>`` in the background, in a session of its own, logging to logs/<name>.log."""
        for folder in (self.pids_dir, self.log_file(name).parent):
            folder.mkdir(parents=True, exist_ok=True)
        with self.log_file(name).open("ab") as log:
            process = subprocess.Popen([AIRFLOW, *command], env=self.environment(), cwd=PROJECT_DIR,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)  # fmt: skip
        (self.pids_dir / f"{name}.pid").write_text(f"{process.pid}\n")

    def running(self) -> dict[str, psutil.Process]:
        """What was launched and still runs, by name (the PID file's process, not a later one reusing its PID)."""
        alive = {}
        for pid_file in sorted(self.pids_dir.glob("*.pid")):
            with suppress(OSError, ValueError, psutil.Error):
                process = psutil.Process(int(pid_file.read_text()))
                if process.create_time() <= pid_file.stat().st_mtime + 1 and process.status() != "zombie":
                    alive[pid_file.stem] = process
        return alive

    def start(self, components: Sequence[str] = COMPONENTS, timeout: float = 300) -> None:
        """Start ``components``; wait until Airflow reports them healthy (and, with a DAG processor, the DAG)."""
        if running := self.running():
            raise AirflowLocalError(
                f"Airflow from {self.home} already runs ({', '.join(running)}): stop it first"
            )
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError:
                raise AirflowLocalError(f"port {self.port} on 127.0.0.1 is taken by another program: pick another "
                                        "one (make airflow AIRFLOW_PORT=8090)") from None  # fmt: skip
        self.home.mkdir(parents=True, exist_ok=True)
        self.passwords_file.touch(0o600)  # the api-server writes the admin's password into it: yours only
        for component in components:
            self.launch(component, *COMMANDS[component])
        try:
            self._wait_until_ready(components, time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self, components: Sequence[str], deadline: float) -> None:
        wanted = ["metadatabase", *(c.replace("-", "_") for c in components if c != "api-server")]
        health: dict[str, dict[str, object]] = {}
        while True:
            if dead := [c for c in components if c not in self.running()]:
                log = self.log_file(dead[0])
                raise AirflowLocalError(
                    f"airflow {dead[0]} exited; the end of {log}:\n{_tail(log.read_text(errors='replace'))}"
                )
            with suppress(httpx.HTTPError, ValueError):
                health = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
            if healthy := all(health.get(key, {}).get("status") == "healthy" for key in wanted):
                with suppress(AirflowLocalError):  # `dags details` fails while Airflow does not know the DAG
                    if "dag-processor" in components:
                        self.airflow("dags", "details", DAG_ID)
                    return
            if time.monotonic() > deadline:
                problem = (
                    f"DAG {DAG_ID} is not registered" if healthy else f"not healthy: {health or 'no answer'}"
                )
                raise AirflowLocalError(f"Airflow is {problem} in time; see {self.home / 'logs'} and "
                                        "`make airflow-cli ARGS='dags list-import-errors'`")  # fmt: skip
            time.sleep(2)

    def stop(self, grace: float = 30) -> list[str]:
        """End everything launched and every process it started, children first; the names it stopped."""
        leaders = {p.pid for p in self.running().values()}
        # a leader's session is ours while the leader runs, and after it ended while a member does
        # (Linux gives no new process a PID that is still some session's ID)
        pid_files = {int(f.read_text()): f for f in sorted(self.pids_dir.glob("*.pid"))}
        sessions = {
            pid: f.stem for pid, f in pid_files.items() if pid in leaders or not psutil.pid_exists(pid)
        }

        def members() -> list[psutil.Process]:  # the youngest first: a child before its parent
            found = [p for p in psutil.process_iter(["create_time"]) if _session(p) in sessions]
            return sorted(found, key=lambda p: p.info["create_time"], reverse=True)

        processes = members()
        stopped = [name for sid, name in sessions.items() if sid in {_session(p) for p in processes}]
        for process in processes:
            with suppress(psutil.Error):
                process.terminate()
        _, alive = psutil.wait_procs(processes, timeout=grace)
        for process in alive + members():  # and whatever started while they shut down
            with suppress(psutil.Error):
                process.kill()
        for pid_file in pid_files.values():
            pid_file.unlink()
        return stopped

    @contextmanager
    def serving(self, components: Sequence[str] = COMPONENTS, timeout: float = 300) -> Iterator[LocalAirflow]:
        """``airflow db migrate``, start ``components``, and always stop them afterwards."""
        self.airflow("db", "migrate")
        try:
            self.start(components, timeout)
            yield self
        finally:
            self.stop()


def _session(process: psutil.Process) -> int | None:
    with suppress(OSError, psutil.Error):
        return os.getsid(process.pid)
    return None


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])
