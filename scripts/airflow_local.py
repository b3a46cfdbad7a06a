"""Airflow 3's components as Airflow's own daemons, plus the glue its commands lack.

``airflow api-server``, ``scheduler``, ``dag-processor`` and ``triggerer`` run with ``--daemon --pid`` on
127.0.0.1, without log servers (they would listen on every interface; the UI reads logs/). The glue: refusing
a taken port, waiting for the health endpoint, stopping each daemon with every process it started. ``airflow
standalone`` does not fit: it serves logs on every interface and forces the LocalExecutor. In home:
airflow.cfg (Airflow writes it, 0600, with the components' shared secrets), pids/, logs/, admin's password.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path

import httpx
import psutil

from scripts.airflow_env import BIN, PROJECT_DIR, airflow_env

AIRFLOW = str(BIN / "airflow")
DAG_ID = "etl_pipeline"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# no log servers: they would listen on every interface (the UI reads logs/)
NO_LOG_SERVER = {"scheduler": ["--skip-serve-logs"], "triggerer": ["--skip-serve-logs"]}


class AirflowLocalError(Exception):
    """A failure with a message meant for the person running the command."""


class LocalAirflow:
    """One local Airflow: home folder, port, metadata DB (None: SQLite in home), environment."""

    def __init__(self, home: Path, port: int = 8080, metadata_db_url: str | None = None,
                 base_env: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.home, self.port, self.metadata_db_url = home, port, metadata_db_url
        self.base_env = dict(os.environ if base_env is None else base_env)  # the executor: LocalExecutor
        self.base_url, self.pids_dir = f"http://127.0.0.1:{port}", home / "pids"
        self.passwords_file = home / "simple_auth_manager_passwords.json"  # airflow_env names it

    def log_file(self, name: str) -> Path:
        return self.home / "logs" / f"{name}.log"

    def environment(self) -> dict[str, str]:
        """The environment of every Airflow process and command of this installation."""
        return airflow_env(self.home, self.base_env, port=self.port, metadata_db_url=self.metadata_db_url)

    def airflow(self, *args: str) -> str:
        """``airflow <args>`` against this installation: its output, or an error showing how it ended."""
        env, cwd = self.environment(), PROJECT_DIR
        done = subprocess.run([AIRFLOW, *args], env=env, cwd=cwd, capture_output=True, text=True)
        if done.returncode != 0:
            raise AirflowLocalError(f"`airflow {' '.join(args)}` failed:\n{_tail(done.stderr + done.stdout)}")
        return done.stdout

    def launch(self, name: str, *command: str) -> None:
        """``airflow <command>`` as Airflow's daemon; PID in pids/<name>.pid, output in logs/<name>.log."""
        log, pid_file = self.log_file(name), self.pids_dir / f"{name}.pid"
        for folder in (self.pids_dir, log.parent):
            folder.mkdir(parents=True, exist_ok=True)
        self.airflow(*command, "--daemon", "--pid", str(pid_file), "--stdout", str(log), "--stderr", str(log))
        deadline = time.monotonic() + 10  # the daemon writes its PID file right after it detached
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def running(self) -> dict[str, psutil.Process]:
        """What was launched and runs, by name (the PID file's process, not a later one with its PID)."""
        alive = {}
        for pid_file in sorted(self.pids_dir.glob("*.pid")):
            with suppress(OSError, ValueError, psutil.Error):
                process = psutil.Process(int(pid_file.read_text()))
                if process.create_time() <= pid_file.stat().st_mtime + 1 and process.status() != "zombie":
                    alive[pid_file.stem] = process
        return alive

    def start(self, components: Sequence[str] = COMPONENTS, timeout: float = 300) -> None:
        """Start ``components`` and wait until Airflow reports them healthy."""
        if running := self.running():
            raise AirflowLocalError(f"Airflow in {self.home} already runs ({', '.join(running)}): stop it")
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError:
                raise AirflowLocalError(f"port {self.port} on 127.0.0.1 is taken by another program: pick "
                                        "another one (make airflow AIRFLOW_PORT=8090)") from None  # fmt: skip
        self.home.mkdir(parents=True, exist_ok=True)
        self.passwords_file.touch(0o600)  # the api-server writes the admin's password into it: yours only
        try:
            for component in components:
                self.launch(component, component, *NO_LOG_SERVER.get(component, []))
            self._wait_until_ready(components, time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self, components: Sequence[str], deadline: float) -> None:
        wanted = ["metadatabase", *(c.replace("-", "_") for c in components if c != "api-server")]
        health: dict[str, dict[str, str]] = {}
        while not (dead := [c for c in components if c not in self.running()]):
            with suppress(httpx.HTTPError, ValueError):
                health = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
            if all(health.get(key, {}).get("status") == "healthy" for key in wanted):
                return
            if time.monotonic() > deadline:
                problem = health or "no answer"
                raise AirflowLocalError(
                    f"Airflow is not healthy in time ({problem}): see {self.home / 'logs'}"
                )
            time.sleep(2)
        end = _tail(self.log_file(dead[0]).read_text("utf-8", "replace"))
        raise AirflowLocalError(f"airflow {dead[0]} exited; the end of {self.log_file(dead[0])}:\n{end}")

    def stop(self, grace: float = 30) -> list[str]:
        """End each daemon and every process it started (descendants and session); the names it stopped."""
        leaders = self.running()
        sessions = {_session(p) for p in leaders.values()} - {None, os.getsid(0)}
        started = set(leaders.values())
        for leader in leaders.values():
            with suppress(psutil.Error):
                started.update(leader.children(recursive=True))

        def members() -> set[psutil.Process]:  # and whatever started while they shut down
            return started | {p for p in psutil.process_iter() if _session(p) in sessions}

        for process in (processes := members()):
            with suppress(psutil.Error):
                process.terminate()
        _, alive = psutil.wait_procs(processes, timeout=grace)
        for process in {*alive, *members()}:
            with suppress(psutil.Error):
                process.kill()
        for pid_file in self.pids_dir.glob("*.pid"):
            pid_file.unlink(missing_ok=True)
        return list(leaders)


def _session(process: psutil.Process) -> int | None:
    with suppress(OSError, psutil.Error):
        return os.getsid(process.pid)
    return None


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])
