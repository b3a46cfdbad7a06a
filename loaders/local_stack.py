"""The embedded local PostgreSQL: no system install, no Docker.

It runs the PostgreSQL 16 binaries shipped inside the ``pgserver`` wheel, keeps its data under
``.local/pg/``, listens on TCP ``127.0.0.1:55432`` only (Cosmos' asset URIs need a host), and holds
the databases ``shop`` (the source system), ``warehouse`` and ``airflow`` (the metadata DB of
``make airflow``; ``make run`` keeps SQLite). ``up`` reuses a running server, so
it is cheap to call before every command; the server keeps running until ``down``.

PostgreSQL refuses to run as root; when we are root it runs as a ``pgserver`` system user, as
the wheel itself does. That user must traverse every folder down to ``.local/pg/`` and to the
wheel's binaries: the folders the stack creates let it through, and folders it did not create
keep their permissions (when one blocks the way, ``up`` says which, and changes nothing).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from loaders import pii_key
from loaders.config import Settings
from loaders.errors import LoaderError

log = logging.getLogger(__name__)

SYSTEM_USER = "pgserver"
SUPERUSER = "postgres"
# Settings for a disposable development server: commits are not flushed one by one (a crash loses
# the last moments, never consistency) and COPY into a table created in the same transaction
# skips the WAL. A day's load writes a few GB of WAL at most: checkpoints are spaced so that one
# day's writes do not force several (each would log every touched page again), and sorts and
# hashes of a day's rows stay in memory.
SERVER_OPTIONS = {
    "listen_addresses": None,  # filled from settings
    "port": None,
    "unix_socket_directories": "''",
    "synchronous_commit": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_connections": "200",
    "shared_buffers": "256MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
    "log_min_messages": "warning",
}


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int | None
    data_dir: Path


def bin_dir() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise LoaderError("the pgserver package is not installed; run `make setup` first")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def psql_path() -> Path:
    return bin_dir() / "psql"


def status(settings: Settings) -> ServerStatus:
    data_dir = settings.local_pg_dir / "data"
    pid_file = data_dir / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (FileNotFoundError, PermissionError, IndexError, ValueError):
        return ServerStatus(False, None, None, data_dir)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return ServerStatus(False, None, None, data_dir)
    except PermissionError:
        pass  # alive, owned by another user
    return ServerStatus(True, pid, port, data_dir)


def up(settings: Settings) -> ServerStatus:
    """Initialise (first time), start (if stopped) and provision the local server: login roles,
    databases and the warehouse's PII hash key (``PII_HASH_KEY``, else the public development
    key; one already installed is kept). Idempotent."""
    data_dir = settings.local_pg_dir / "data"
    current = status(settings)
    if current.running:
        if current.port != settings.local_pg_port:
            raise LoaderError(
                f"the local PostgreSQL in {data_dir} already runs on port {current.port}, not "
                f"{settings.local_pg_port}; run `make down` or set LOCAL_PG_PORT={current.port}"
            )
        log.info("local PostgreSQL already running (pid %s, port %s)", current.pid, current.port)
    else:
        _init_if_needed(settings)
        _start(settings)
        current = status(settings)
    _provision(settings)
    pii_key.install_local_key(settings)
    return current


def down(settings: Settings) -> bool:
    """Stop the local server. Returns False when it was not running."""
    current = status(settings)
    if not current.running:
        return False
    _run_pg(["pg_ctl", "-D", str(current.data_dir), "-m", "fast", "-w", "-t", "60", "stop"])
    log.info("local PostgreSQL stopped (pid %s)", current.pid)
    return True


def superuser_password(settings: Settings) -> str:
    return (settings.local_pg_dir / "superuser-password").read_text().strip()


def superuser_conninfo(settings: Settings, dbname: str = "postgres") -> str:
    return psycopg.conninfo.make_conninfo(
        host=settings.local_pg_host,
        port=str(settings.local_pg_port),
        user=SUPERUSER,
        password=superuser_password(settings),
        dbname=dbname,
        connect_timeout="10",
    )


# --- internals -------------------------------------------------------------------------------


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
    return SYSTEM_USER


def _make_folders(path: Path, user: str | None) -> None:
    """Create ``path`` and whichever of its parents are missing. When the server runs as the
    system ``user``, the folders created here let it through (o+x); folders that already
    existed keep their permissions, whoever made them."""
    missing = [folder for folder in [path, *path.parents] if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        if user:
            folder.chmod(folder.stat().st_mode | stat.S_IXOTH)


def _check_reachable(settings: Settings, user: str | None) -> None:
    """The server's system ``user`` must reach its folder and the PostgreSQL binaries through
    folders whose permissions are left as their owners set them: say which one blocks it."""
    if not user:
        return
    for path in (settings.local_pg_dir, bin_dir() / "postgres"):
        reachable = subprocess.run(
            ["/bin/sh", "-c", 'test -x "$1"', "sh", str(path)],
            user=user, group=user, extra_groups=[], cwd="/", check=False,
        )  # fmt: skip
        if reachable.returncode != 0:
            ids = pwd.getpwnam(user)
            blocking = next((f for f in reversed(path.parents) if not _lets_through(f, ids)), path)
            raise LoaderError(
                f"the local PostgreSQL runs as the system user {user} (PostgreSQL refuses to run as "
                f"root), which cannot reach {path}: {blocking} is mode "
                f"{stat.S_IMODE(blocking.stat().st_mode):04o}. The local stack leaves permissions of "
                "folders it did not create alone: keep the project (or PIPELINE_LOCAL_DIR) in a folder "
                f"{user} can traverse, or let it through yourself (e.g. `setfacl -m u:{user}:x {blocking}`)"
            )


def _lets_through(folder: Path, ids: pwd.struct_passwd) -> bool:
    """Whether the mode bits of ``folder`` let a user with ``ids`` (no other groups) traverse it."""
    info = folder.stat()
    if info.st_uid == ids.pw_uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == ids.pw_gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def _run_pg(args: list[str]) -> subprocess.CompletedProcess[str]:
    exe = bin_dir() / args[0]
    user = _system_user()
    try:
        return subprocess.run(
            [str(exe), *args[1:]],
            check=True,
            capture_output=True,
            text=True,
            # the server's own user and group only: keeping root's group would make folders
            # with an empty group mode unreadable to it
            user=user,
            group=user,
            extra_groups=[] if user else None,
            cwd="/",
        )
    except subprocess.CalledProcessError as err:
        raise LoaderError(f"{args[0]} failed: {(err.stderr or err.stdout).strip()}") from None


def _init_if_needed(settings: Settings) -> None:
    pg_dir = settings.local_pg_dir
    data_dir = pg_dir / "data"
    if (data_dir / "PG_VERSION").exists():
        return
    log.info("initialising a new PostgreSQL data folder in %s", data_dir)
    user = _system_user()
    _make_folders(pg_dir, user)
    _check_reachable(settings, user)
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(mode=0o700)
    password_file = pg_dir / "superuser-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(24) + "\n")
        password_file.chmod(0o600)
    # initdb reads the password from a file the server's user can read; removed right after.
    pwfile = pg_dir / ".initdb-pw"
    pwfile.write_text(superuser_password(settings) + "\n")
    if user:
        ids = pwd.getpwnam(user)
        for path in (data_dir, pwfile):
            os.chown(path, ids.pw_uid, ids.pw_gid)
    try:
        _run_pg(
            [
                "initdb",
                "-D", str(data_dir),
                "-U", SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ]
        )  # fmt: skip
    finally:
        pwfile.unlink(missing_ok=True)


def _start(settings: Settings) -> None:
    pg_dir = settings.local_pg_dir
    data_dir = pg_dir / "data"
    log_file = pg_dir / "postgres.log"
    options = dict(SERVER_OPTIONS)
    options["listen_addresses"] = settings.local_pg_host
    options["port"] = str(settings.local_pg_port)
    opts = " ".join(f"-c {k}={v}" for k, v in options.items())
    user = _system_user()
    _check_reachable(settings, user)
    if user:
        log_file.touch()
        ids = pwd.getpwnam(user)
        os.chown(log_file, ids.pw_uid, ids.pw_gid)
    started = time.monotonic()
    try:
        _run_pg(["pg_ctl", "-D", str(data_dir), "-l", str(log_file), "-w", "-t", "60", "-o", opts, "start"])
    except LoaderError:
        # errors are one line (loaders/cli.py): the server's last words, then where the rest is
        last = [line.strip() for line in log_file.read_text(errors="replace").splitlines()[-5:]]
        fatal = [line for line in last if "FATAL" in line or "could not" in line] or last[-1:]
        raise LoaderError(
            f"could not start the local PostgreSQL on {settings.local_pg_host}:"
            f"{settings.local_pg_port} (is the port taken? set LOCAL_PG_PORT); the server said: "
            f"{' / '.join(fatal)} (its log: {log_file})"
        ) from None
    log.info(
        "local PostgreSQL started on %s:%s in %.1fs",
        settings.local_pg_host,
        settings.local_pg_port,
        time.monotonic() - started,
    )


def _provision(settings: Settings) -> None:
    """Create the login roles and the databases (shop, warehouse, Airflow's) when they are missing."""
    with psycopg.connect(superuser_conninfo(settings), autocommit=True) as conn:
        for target in (settings.warehouse, settings.shop, settings.airflow_db):
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (target.user,)).fetchone()
            verb = "alter" if exists else "create"
            conn.execute(
                sql.SQL("{} role {} login createrole password {}").format(
                    sql.SQL(verb), sql.Identifier(target.user), sql.Literal(target.password)
                )
            )
        for target in (settings.shop, settings.warehouse, settings.airflow_db):
            if not conn.execute("select 1 from pg_database where datname = %s", (target.dbname,)).fetchone():
                conn.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(target.dbname), sql.Identifier(target.user)
                    )
                )
                log.info("created database %s", target.dbname)


@contextmanager
def scratch_databases(settings: Settings, *prefixes: str, keep: bool = False) -> Iterator[dict[str, str]]:
    """Create empty databases (``<prefix>_<random>``, owned by the warehouse login) on the local
    server for tests and benchmarks, and drop them afterwards (unless ``keep``). Yields
    prefix -> name."""
    token = uuid.uuid4().hex[:10]
    names = {prefix: f"{prefix}_{token}" for prefix in prefixes}
    admin = superuser_conninfo(settings)
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names.values():
            conn.execute(
                sql.SQL("create database {} owner {}").format(
                    sql.Identifier(name), sql.Identifier(settings.warehouse.user)
                )
            )
    try:
        yield names
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                for name in names.values():
                    conn.execute(
                        sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
                    )
