"""Airflow 3's components as Airflow's own daemons (``--daemon --pid``), plus the glue its commands lack:
refusing a taken port, waiting for the health endpoint, stopping each daemon with all it started. On
127.0.0.1, without log servers (they listen on every interface; the UI reads logs/), so not ``airflow
standalone`` (which also forces the LocalExecutor). In home: airflow.cfg (Airflow writes it, 0600, with
the components' shared secrets), pids/ (with each daemon's session), logs/, the admin's password.
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
        url = self.metadata_db_url or f"sqlite:///{self.home}/airflow.db"  # not one the caller's env names
        return airflow_env(self.home, self.base_env, port=self.port, metadata_db_url=url)

    def airflow(self, *args: str) -> str:
        """``airflow <args>`` against this installation: its output, or an error showing how it ended."""
        done = subprocess.run([AIRFLOW, *args], env=self.environment(), cwd=PROJECT_DIR,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True)  # fmt: skip
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
        while name not in (running := self.running()) and time.monotonic() < deadline:
            time.sleep(0.1)
        if name in running and (session := _session(running[name])):  # how stop() finds what it started,
            (self.pids_dir / f"{name}.sid").write_text(f"{session}\n")  # even once the daemon died

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
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:  # another program listens there
                raise AirflowLocalError(f"port {self.port} on 127.0.0.1 is taken by another program: pick "
                                        "another one (make airflow AIRFLOW_PORT=8090)")  # fmt: skip
        self.stop()  # what an earlier run left behind: stale PID files, survivors of a dead daemon's session
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
                raise AirflowLocalError(f"Airflow is not healthy in time ({health or 'no answer'}): "
                                        f"see {self.home / 'logs'}")  # fmt: skip
            time.sleep(2)
        end = _tail(self.log_file(dead[0]).read_text("utf-8", "replace"))
        raise AirflowLocalError(f"airflow {dead[0]} exited; the end of {self.log_file(dead[0])}:\n{end}")

    def stop(self, grace: float = 30) -> list[str]:
        """End each daemon and every process it started: its descendants and its session's members, also
        after the daemon died (Linux gives no new process the PID a live session is named after)."""
        leaders, callers = self.running(), {p.pid for p in [psutil.Process(), *psutil.Process().parents()]}
        recorded = {int(f.read_text()) for f in self.pids_dir.glob("*.sid")}
        sessions = {s for s in recorded if not psutil.pid_exists(s)} | {_session(p) for p in leaders.values()}
        sessions -= {None, os.getsid(0)}

        def members() -> set[psutil.Process]:  # again after the grace: whatever started meanwhile
            found = {*leaders.values(), *(p for p in psutil.process_iter() if _session(p) in sessions)}
            for process in list(found):
                with suppress(psutil.Error):
                    found.update(process.children(recursive=True))
            return {p for p in found if p.pid not in callers}

        for process in (processes := members()):
            with suppress(psutil.Error):
                process.terminate()
        _, alive = psutil.wait_procs(processes, timeout=grace)
        for process in {*alive, *members()}:
            with suppress(psutil.Error):
                process.kill()
        for file in [*self.pids_dir.glob("*.pid"), *self.pids_dir.glob("*.sid")]:
            file.unlink(missing_ok=True)
        return list(leaders)


def _session(process: psutil.Process) -> int | None:
    with suppress(OSError, psutil.Error):
        return os.getsid(process.pid)
    return None


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])
