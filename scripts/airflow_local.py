"""Airflow 3 on this machine: api-server, scheduler, dag-processor and triggerer as processes.

``python -m scripts.airflow_local start`` (``make airflow``) runs each component as its own
background process on the loopback interface, with LocalExecutor and the metadata database
``airflow`` on the embedded PostgreSQL (``make up``), waits until the health endpoint reports
every component healthy and the ``etl_pipeline`` DAG is registered, and prints the URL and the
login. ``stop`` (``make airflow-stop``) ends every process it started, children first.

Local state lives in ``$AIRFLOW_HOME`` (``.local/airflow``): ``pids/`` (one file per component,
plus ``server.json``), ``logs/<component>.log``, the simple auth manager's passwords file and
``local-secrets.json`` (the JWT secret every component shares, the API secret key, the Fernet
key and the metadata DB password), all generated at first start and readable only by you.

The same functions start the throw-away servers of the test suite (``LocalAirflow``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psutil

if TYPE_CHECKING:
    from loaders.config import Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
AIRFLOW = str(Path(sys.executable).parent / "airflow")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# the key of each component in /api/v2/monitor/health
HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
DAG_ID = "etl_pipeline"
ADMIN_USER = "admin"
METADATA_DB = "airflow"
METADATA_DB_USER = "airflow"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class AirflowLocalError(Exception):
    """A failure with a message meant for the person running the command."""


@dataclass(frozen=True)
class LocalAirflow:
    """One local Airflow installation: its home folder, address and metadata database."""

    home: Path
    port: int = 8080
    host: str = "127.0.0.1"
    # SQLAlchemy URL of the metadata DB; None: a SQLite file in ``home`` (not the one of `make run`)
    metadata_db_url: str | None = None
    project_dir: Path = PROJECT_DIR
    # environment the processes start from (default: this process's)
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # task slots of the LocalExecutor: the machine has few cores
    parallelism: int = 4
    # LocalExecutor (`make airflow`), or CeleryExecutor with workers started apart (the tests)
    executor: str = "LocalExecutor"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pids_dir(self) -> Path:
        return self.home / "pids"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    @property
    def secrets_file(self) -> Path:
        return self.home / "local-secrets.json"

    def log_file(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"

    # --- configuration ---------------------------------------------------------------------

    def local_secrets(self) -> dict[str, str]:
        """Secrets shared by the components, generated once and kept in ``home`` (mode 0600)."""
        from cryptography.fernet import Fernet

        stored = json.loads(self.secrets_file.read_text()) if self.secrets_file.exists() else {}
        wanted = {
            "jwt_secret": lambda: secrets.token_urlsafe(48),
            "api_secret_key": lambda: secrets.token_urlsafe(32),
            "fernet_key": lambda: Fernet.generate_key().decode(),
            "metadata_db_password": lambda: secrets.token_urlsafe(24),
        }
        missing = {k: make() for k, make in wanted.items() if k not in stored}
        if missing:
            _write_private(self.secrets_file, json.dumps({**stored, **missing}, indent=2) + "\n")
        return {**stored, **missing}

    def admin_password(self) -> str:
        """The admin's password (the simple auth manager's passwords file; created when missing)."""
        if self.passwords_file.exists():
            passwords = json.loads(self.passwords_file.read_text())
            if passwords.get(ADMIN_USER):
                return passwords[ADMIN_USER]
        else:
            passwords = {}
        passwords[ADMIN_USER] = secrets.token_urlsafe(12)
        _write_private(self.passwords_file, json.dumps(passwords) + "\n")
        return passwords[ADMIN_USER]

    def environment(self) -> dict[str, str]:
        """The environment of every Airflow process (and CLI command) of this installation."""
        local = self.local_secrets()
        self.admin_password()  # the passwords file must exist before the api-server starts
        env = dict(self.base_env)
        env.setdefault("DBT_PROJECT_DIR", str(self.project_dir / "dbt_project"))
        env.setdefault("AIRFLOW__COSMOS__CACHE_DIR", str(self.home / "cosmos_cache"))
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "PYTHONPATH": str(self.project_dir),
                "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_db_url
                or f"sqlite:///{self.home / 'airflow-local.db'}",
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.project_dir / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.project_dir / "airflow_plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__FERNET_KEY": local["fernet_key"],
                "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__HOST": self.host,
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": local["api_secret_key"],
                # every component signs or checks the task and UI tokens with the same secret
                "AIRFLOW__API_AUTH__JWT_SECRET": local["jwt_secret"],
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs_dir),
                "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
                "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            }
        )
        return env

    def airflow_cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AIRFLOW, *args],
            env=self.environment(),
            cwd=self.project_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    # --- processes -------------------------------------------------------------------------

    def migrate(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        result = self.airflow_cli("db", "migrate")
        self.log_file("db-migrate").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise AirflowLocalError(
                "airflow db migrate failed (log: "
                f"{self.log_file('db-migrate')}):\n{_tail(result.stdout + result.stderr)}"
            )

    def command(self, component: str) -> list[str]:
        if component == "api-server":
            return [AIRFLOW, "api-server", "--host", self.host, "--port", str(self.port), "--workers", "1"]
        if component in ("scheduler", "triggerer"):
            # logs are read from the shared log folder: no log server listening on every interface
            return [AIRFLOW, component, "--skip-serve-logs"]
        if component == "dag-processor":
            return [AIRFLOW, "dag-processor"]
        raise ValueError(f"unknown component {component!r}; expected one of {', '.join(COMPONENTS)}")

    def running(self) -> dict[str, psutil.Process]:
        """The components started from this home that still run."""
        alive = {}
        for component in COMPONENTS:
            process = self._recorded_process(component)
            if process is not None:
                alive[component] = process
        return alive

    def start(self, components: Sequence[str] = COMPONENTS) -> None:
        """Start ``components`` as background processes (wait_until_ready waits for them)."""
        if running := self.running():
            raise AirflowLocalError(
                f"Airflow from {self.home} already runs ({', '.join(running)}): stop it first"
            )
        if not _port_is_free(self.host, self.port):
            raise AirflowLocalError(
                f"port {self.port} on {self.host} is taken by another program: "
                "pick another one (make airflow AIRFLOW_PORT=8090)"
            )
        for folder in (self.pids_dir, self.logs_dir):
            folder.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        for component in components:
            with self.log_file(component).open("ab") as log:
                process = subprocess.Popen(
                    self.command(component),
                    env=env,
                    cwd=self.project_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # its own session: stop() finds every process the component starts
                    start_new_session=True,
                )
            record = {"pid": process.pid, "create_time": psutil.Process(process.pid).create_time()}
            (self.pids_dir / f"{component}.pid").write_text(json.dumps(record) + "\n")
        (self.pids_dir / "server.json").write_text(
            json.dumps(
                {
                    "base_url": self.base_url,
                    "port": self.port,
                    "components": list(components),
                    "metadata": "sqlite" if self.metadata_db_url is None else "postgres",
                }
            )
            + "\n"
        )

    def wait_until_ready(self, components: Sequence[str] = COMPONENTS, timeout: float = 240) -> None:
        """Wait until the health endpoint reports ``components`` healthy and the DAG is registered."""
        deadline = time.monotonic() + timeout
        wanted = [HEALTH_KEYS[c] for c in components if c in HEALTH_KEYS]
        health: dict = {}
        while True:
            self._check_alive(components)
            with suppress(httpx.HTTPError, ValueError):
                health = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
                statuses = [health.get("metadatabase", {}).get("status")]
                statuses += [health.get(key, {}).get("status") for key in wanted]
                if all(s == "healthy" for s in statuses):
                    break
            if time.monotonic() > deadline:
                raise AirflowLocalError(
                    f"Airflow did not become healthy within {timeout:.0f}s: {health or 'no answer'}; "
                    f"logs in {self.logs_dir}"
                )
            time.sleep(1)
        if "dag-processor" not in components:
            return
        api = self.api()
        while True:
            self._check_alive(components)
            if api.get(f"/api/v2/dags/{DAG_ID}").status_code == 200:
                return
            if time.monotonic() > deadline:
                errors = api.get("/api/v2/importErrors").json().get("import_errors", [])
                detail = "; ".join(f"{e['filename']}: {e['stack_trace'][-500:]}" for e in errors)
                raise AirflowLocalError(
                    f"DAG {DAG_ID} was not registered within {timeout:.0f}s"
                    f"{': ' + detail if detail else ''} (log: {self.log_file('dag-processor')})"
                )
            time.sleep(1)

    def stop(self, grace: float = 30) -> list[str]:
        """End every process of every component, children before their parent; returns the components."""
        leaders: dict[str, tuple[int, float]] = {}
        for pid_file in sorted(self.pids_dir.glob("*.pid")):
            with suppress(ValueError, KeyError, OSError):
                record = json.loads(pid_file.read_text())
                leaders[pid_file.stem] = (int(record["pid"]), float(record["create_time"]))
        stopped = []
        processes: list[psutil.Process] = []
        for component, (pid, started) in leaders.items():
            members = _session_members(pid, started)
            leader = _process_if_same(pid, started)
            if leader is not None or members:
                stopped.append(component)
            # children first: a leader stopped first could leave its workers running
            for process in [*members, *([leader] if leader else [])]:
                with suppress(psutil.Error):
                    process.send_signal(signal.SIGTERM)
                    processes.append(process)
        _, alive = psutil.wait_procs(processes, timeout=grace)
        for process in alive:
            with suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(alive, timeout=10)
        # anything the components started while shutting down
        for pid, started in leaders.values():
            for process in _session_members(pid, started):
                with suppress(psutil.Error):
                    process.kill()
        for pid_file in self.pids_dir.glob("*.pid"):
            pid_file.unlink(missing_ok=True)
        (self.pids_dir / "server.json").unlink(missing_ok=True)
        return stopped

    @contextmanager
    def serving(self, components: Sequence[str] = COMPONENTS, timeout: float = 240) -> Iterator[LocalAirflow]:
        """Migrate, start and wait for ``components``; always stop them afterwards."""
        self.migrate()
        try:
            self.start(components)
            self.wait_until_ready(components, timeout=timeout)
            yield self
        finally:
            self.stop()

    def api(self) -> AirflowApi:
        return AirflowApi.login(self.base_url, ADMIN_USER, self.admin_password())

    # --- internals -------------------------------------------------------------------------

    def _recorded_process(self, component: str) -> psutil.Process | None:
        try:
            record = json.loads((self.pids_dir / f"{component}.pid").read_text())
            return _process_if_same(int(record["pid"]), float(record["create_time"]))
        except (OSError, ValueError, KeyError):
            return None

    def _check_alive(self, components: Sequence[str]) -> None:
        dead = [c for c in components if self._recorded_process(c) is None]
        if dead:
            log = self.log_file(dead[0])
            tail = _tail(log.read_text(errors="replace")) if log.exists() else ""
            raise AirflowLocalError(f"airflow {dead[0]} exited; the end of {log}:\n{tail}")


@dataclass
class AirflowApi:
    """The REST API of a running api-server, with a token from the login endpoint."""

    base_url: str
    token: str

    @classmethod
    def login(cls, base_url: str, username: str, password: str) -> AirflowApi:
        response = httpx.post(
            f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        if response.status_code != 201:
            raise AirflowLocalError(f"login as {username} at {base_url} failed: {response.status_code}")
        return cls(base_url, response.json()["access_token"])

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def dag(self, dag_id: str = DAG_ID) -> dict:
        response = self.get(f"/api/v2/dags/{dag_id}")
        if response.status_code == 404:
            raise AirflowLocalError(
                f"Airflow does not know DAG {dag_id} (yet): see the import errors in the UI"
            )
        response.raise_for_status()
        return response.json()

    def set_paused(self, paused: bool, dag_id: str = DAG_ID) -> dict:
        response = self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})
        response.raise_for_status()
        return response.json()

    def trigger(self, ds: str, conf: dict | None = None, dag_id: str = DAG_ID) -> str:
        """Start a run for day ``ds`` (its logical date) with params ``conf``; returns the run id."""
        response = self.request(
            "POST",
            f"/api/v2/dags/{dag_id}/dagRuns",
            json={"logical_date": f"{ds}T00:00:00Z", "conf": conf or {}},
        )
        if response.status_code == 409:
            raise AirflowLocalError(f"{dag_id} already has a run for {ds}: see the UI, or clear that run")
        response.raise_for_status()
        return response.json()["dag_run_id"]

    def clear(self, run_id: str, task_ids: list[str], dag_id: str = DAG_ID) -> list[str]:
        """Clear tasks of a run and what depends on them (the UI's "Clear" with downstream)."""
        response = self.request(
            "POST",
            f"/api/v2/dags/{dag_id}/clearTaskInstances",
            json={"dag_run_id": run_id, "task_ids": task_ids, "include_downstream": True,
                  "only_failed": False, "reset_dag_runs": True, "dry_run": False},
        )  # fmt: skip
        response.raise_for_status()
        return [ti["task_id"] for ti in response.json()["task_instances"]]

    def run_state(self, run_id: str, dag_id: str = DAG_ID) -> str:
        response = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        response.raise_for_status()
        return response.json()["state"]

    def task_states(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, str | None]:
        response = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        response.raise_for_status()
        return {ti["task_id"]: ti["state"] for ti in response.json()["task_instances"]}

    def wait_for_run(self, run_id: str, timeout: float = 900, dag_id: str = DAG_ID) -> str:
        deadline = time.monotonic() + timeout
        while (state := self.run_state(run_id, dag_id)) not in ("success", "failed"):
            if time.monotonic() > deadline:
                raise AirflowLocalError(f"run {run_id} is still {state} after {timeout:.0f}s")
            time.sleep(3)
        return state


def postgres_metadata_url(password: str, settings: Settings | None = None) -> str:
    """The SQLAlchemy URL of database ``airflow`` on the embedded PostgreSQL."""
    from loaders.config import Settings

    settings = settings or Settings.from_env()
    return (
        f"postgresql+psycopg2://{METADATA_DB_USER}:{password}@"
        f"{settings.local_pg_host}:{settings.local_pg_port}/{METADATA_DB}"
    )


def create_postgres_metadata_db(password: str, settings: Settings | None = None) -> str:
    """Create (or update) role and database ``airflow`` on the embedded PostgreSQL; returns its URL."""
    import psycopg
    from psycopg import sql

    from loaders import local_stack
    from loaders.config import Settings

    settings = settings or Settings.from_env()
    local_stack.up(settings)  # reuses a running server
    with psycopg.connect(local_stack.superuser_conninfo(settings), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (METADATA_DB_USER,)).fetchone()
        conn.execute(
            sql.SQL("{} role {} login password {}").format(
                sql.SQL("alter" if exists else "create"),
                sql.Identifier(METADATA_DB_USER),
                sql.Literal(password),
            )
        )
        if not conn.execute("select 1 from pg_database where datname = %s", (METADATA_DB,)).fetchone():
            conn.execute(
                sql.SQL("create database {} owner {}").format(
                    sql.Identifier(METADATA_DB), sql.Identifier(METADATA_DB_USER)
                )
            )
    return postgres_metadata_url(password, settings)


# --- helpers -----------------------------------------------------------------------------------


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _process_if_same(pid: int, create_time: float) -> psutil.Process | None:
    """The process ``pid`` if it is still the one recorded (not a later process reusing the pid)."""
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - create_time) > 1 or process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


def _session_members(leader_pid: int, since: float) -> list[psutil.Process]:
    """Processes of the session ``leader_pid`` started (it was started with a new session)."""
    members = []
    for process in psutil.process_iter(["create_time"]):
        if process.pid == leader_pid:
            continue
        with suppress(OSError, psutil.Error):
            if os.getsid(process.pid) == leader_pid and process.info["create_time"] >= since - 1:
                members.append(process)
    # deepest first: a child before its parent
    return sorted(members, key=lambda p: p.info["create_time"], reverse=True)


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.splitlines()[-lines:])


# --- command line ------------------------------------------------------------------------------


def _local(args: argparse.Namespace, *, metadata_db_url: str | None = None) -> LocalAirflow:
    home = Path(os.environ.get("AIRFLOW_HOME") or PROJECT_DIR / ".local" / "airflow").resolve()
    port = args.port
    if port is None:  # a running server's port
        with suppress(OSError, ValueError):
            port = json.loads((home / "pids" / "server.json").read_text())["port"]
    return LocalAirflow(home=home, port=port or 8080, metadata_db_url=metadata_db_url)


def _cmd_start(args: argparse.Namespace) -> int:
    local = _local(args)
    if set(local.running()) == set(COMPONENTS):
        print(f"== Airflow already runs at {local.base_url}")
        _print_login(local)
        return 0
    if local.running():
        raise AirflowLocalError(
            f"only {', '.join(local.running())} of Airflow run: `make airflow-stop` first"
        )
    url = None
    if args.metadata == "postgres":
        print("== metadata DB: database airflow on the embedded PostgreSQL")
        url = create_postgres_metadata_db(local.local_secrets()["metadata_db_password"])
    local = LocalAirflow(home=local.home, port=local.port, metadata_db_url=url)
    print(f"== airflow db migrate (log: {local.log_file('db-migrate')})")
    local.migrate()
    print(f"== starting {', '.join(COMPONENTS)} on {local.base_url} (logs: {local.logs_dir}/<component>.log)")
    local.start()
    try:
        local.wait_until_ready(timeout=args.timeout)
    except BaseException:
        local.stop()
        raise
    dag = local.api().dag()
    print(f"== Airflow is up: DAG {DAG_ID} {'paused' if dag['is_paused'] else 'active'}")
    _print_login(local)
    return 0


def _print_login(local: LocalAirflow) -> None:
    print(f"   UI:        {local.base_url}")
    print(f"   login:     {ADMIN_USER} / {local.admin_password()}   (from {local.passwords_file})")
    print(f"   dbt docs:  {local.base_url}/plugin/dbt-docs   (Browse > dbt Docs)")
    print("   unpause:   make airflow-unpause   run a day: make airflow-trigger DS=YYYY-MM-DD")
    print("   stop:      make airflow-stop")


def _cmd_stop(args: argparse.Namespace) -> int:
    stopped = _local(args).stop()
    print(f"== stopped {', '.join(stopped)}" if stopped else "== Airflow was not running")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    local = _local(args)
    running = local.running()
    for component in COMPONENTS:
        process = running.get(component)
        print(f"   {component:14} {'pid ' + str(process.pid) if process else 'not running'}")
    if running:
        with suppress(httpx.HTTPError):
            print(f"   health: {httpx.get(f'{local.base_url}/api/v2/monitor/health', timeout=5).json()}")
    return 0


def _cmd_pause(args: argparse.Namespace) -> int:
    api = _local(args).api()
    dag = api.set_paused(args.paused)
    print(f"== {DAG_ID} is {'paused' if dag['is_paused'] else 'unpaused'}")
    if not dag["is_paused"] and dag.get("next_dagrun_logical_date"):
        print(
            f"   the scheduler runs it for {dag['next_dagrun_logical_date'][:10]} next "
            "(its CSV must be in the drop folder: make sample DS=...)"
        )
    return 0


def _cmd_trigger(args: argparse.Namespace) -> int:
    local = _local(args)
    api = local.api()
    if api.dag()["is_paused"]:
        raise AirflowLocalError(f"{DAG_ID} is paused, so a run would wait: `make airflow-unpause` first")
    try:
        conf = json.loads(args.conf or "{}")
    except ValueError:
        raise AirflowLocalError(f"--conf must be a JSON object, got {args.conf!r}") from None
    run_id = api.trigger(args.ds, conf)
    print(f"== triggered {DAG_ID} for {args.ds} (conf {json.dumps(conf)}): run {run_id}")
    print(f"   {local.base_url}/dags/{DAG_ID}/runs/{run_id}")
    if args.no_wait:
        return 0
    started = time.monotonic()
    state = api.wait_for_run(run_id, timeout=args.timeout)
    for task_id, task_state in sorted(api.task_states(run_id).items()):
        print(f"   {task_state or 'none':16} {task_id}")
    print(f"== run {run_id}: {state} in {time.monotonic() - started:.0f}s")
    return 0 if state == "success" else 1


def _cmd_cli(args: argparse.Namespace) -> int:
    local = _local(args)
    url = postgres_metadata_url(local.local_secrets()["metadata_db_password"])
    with suppress(OSError, ValueError):
        if json.loads((local.pids_dir / "server.json").read_text()).get("metadata") == "sqlite":
            url = None
    env = LocalAirflow(home=local.home, port=local.port, metadata_db_url=url).environment()
    return subprocess.run([AIRFLOW, *args.airflow_args], env=env, cwd=PROJECT_DIR).returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.airflow_local",
        description="Run Airflow 3 locally (api-server, scheduler, dag-processor, triggerer).",
    )
    parser.add_argument("--port", type=int, help="the api-server's port (default 8080, or the running one)")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    start = commands.add_parser("start", help="start every component and wait until they are healthy")
    start.add_argument("--metadata", choices=["postgres", "sqlite"], default="postgres")
    start.add_argument("--timeout", type=float, default=300, help="seconds to wait for readiness")
    start.set_defaults(run=_cmd_start)
    commands.add_parser("stop", help="stop every process started by `start`").set_defaults(run=_cmd_stop)
    commands.add_parser("status", help="which components run, and their health").set_defaults(run=_cmd_status)
    unpause = commands.add_parser("unpause", help=f"unpause {DAG_ID}")
    unpause.set_defaults(run=_cmd_pause, paused=False)
    pause = commands.add_parser("pause", help=f"pause {DAG_ID}")
    pause.set_defaults(run=_cmd_pause, paused=True)
    trigger = commands.add_parser("trigger", help=f"run {DAG_ID} for a day and wait for the result")
    trigger.add_argument("--ds", required=True, help="the day, YYYY-MM-DD")
    trigger.add_argument("--conf", help="the run's params as JSON, e.g. '{\"full_extract\": true}'")
    trigger.add_argument("--no-wait", action="store_true")
    trigger.add_argument("--timeout", type=float, default=1800)
    trigger.set_defaults(run=_cmd_trigger)
    cli = commands.add_parser("cli", help="run an airflow CLI command against the running installation")
    cli.add_argument("airflow_args", nargs=argparse.REMAINDER)
    cli.set_defaults(run=_cmd_cli)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except AirflowLocalError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except httpx.HTTPError as err:
        print(f"error: the Airflow API did not answer as expected: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
