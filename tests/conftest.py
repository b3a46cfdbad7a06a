"""Shared fixtures: a real PostgreSQL server for the whole session, fresh databases per test.

The server is the project's own embedded PostgreSQL (``loaders.local_stack``), started in a
temporary folder on a free port so the suite never touches a developer's ``make run`` stack,
and stopped at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from loaders import local_stack, pii_key
from loaders.config import Settings
from loaders.lake import Lake
from scripts.airflow_env import airflow_env
from scripts.airflow_local import COMPONENTS, LocalAirflow
from scripts.airflow_local_cli import metadata_db_url, wait_for_dag

PROJECT_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_settings() -> Iterator[Settings]:
    """Settings whose local stack is a PostgreSQL server private to this test session.

    Its folder is outside pytest's temporary tree: another pytest session starting on the same
    machine resets that tree's permissions, which would cut the server off its own data."""
    local_dir = Path(tempfile.mkdtemp(prefix="shop-elt-tests-"))
    local_dir.chmod(0o711)  # run as root, the server's own system user must traverse it
    port = free_port()
    env = {
        "PIPELINE_LOCAL_DIR": str(local_dir),
        "LOCAL_PG_PORT": str(port),
        "LAKE_URL": (local_dir / "lake").as_uri(),
        "INTERACTIONS_DROP_DIR": str(local_dir / "drop"),
    }
    settings = Settings.from_env(env)
    local_stack.up(settings)
    try:
        yield settings
    finally:
        local_stack.down(settings)
        shutil.rmtree(local_dir, ignore_errors=True)


@contextmanager
def fresh_warehouse(pg_settings: Settings, folder: Path) -> Iterator[Settings]:
    """Settings with new, empty warehouse and shop databases and lake folder; dropped afterwards.
    The warehouse holds the PII hash key, as `make up` gives the local one."""
    with local_stack.scratch_databases(pg_settings, "wh", "shop") as names:
        settings = pg_settings.with_overrides(
            warehouse=replace(pg_settings.warehouse, dbname=names["wh"]),
            shop=replace(pg_settings.shop, dbname=names["shop"]),
            lake_url=(folder / "lake").as_uri(),
            interactions_drop_dir=folder / "drop",
        )
        pii_key.install_local_key(settings)
        yield settings


@pytest.fixture
def settings(pg_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Settings with a fresh, empty warehouse database and lake folder for one test."""
    with fresh_warehouse(pg_settings, tmp_path) as fresh:
        yield fresh


@pytest.fixture
def lake(settings: Settings) -> Lake:
    return Lake.from_url(settings.lake_url)


@pytest.fixture
def wh(settings: Settings) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the test's warehouse database."""
    with psycopg.connect(settings.warehouse.conninfo(), autocommit=True) as conn:
        yield conn


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a subprocess (dbt, airflow, python -m loaders) needs to use ``settings``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("WAREHOUSE_", "SHOP_", "AIRFLOW_", "AWS_"))
    }
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": str(PROJECT_DIR),
            "PIPELINE_LOCAL_DIR": str(settings.local_dir),
            "LOCAL_PG_PORT": str(settings.local_pg_port),
            "WAREHOUSE_PORT": str(settings.warehouse.port),
            "WAREHOUSE_DBNAME": settings.warehouse.dbname,
            "SHOP_PORT": str(settings.shop.port),
            "SHOP_DBNAME": settings.shop.dbname,
            "LAKE_URL": settings.lake_url,
            "INTERACTIONS_DROP_DIR": str(settings.interactions_drop_dir),
            "AIRFLOW_CONN_WAREHOUSE_DB": settings.warehouse.url(),
            "AIRFLOW_CONN_SHOP_DB": settings.shop.url(),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    env.update(extra)
    return env


def airflow_test_env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    """``env_for`` plus an Airflow home of the test's own, its metadata DB migrated (for
    `airflow dags test` of the project's DAG)."""
    env = airflow_env(tmp_path / "airflow", env_for(settings, **extra))
    airflow = str(BIN / "airflow")
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    return env


def run_dbt(
    settings: Settings, tmp_path: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real dbt CLI against the test warehouse, with artifacts in ``tmp_path``."""
    result = subprocess.run(
        [
            str(BIN / "dbt"), "--no-use-colors", *args,
            "--project-dir", str(PROJECT_DIR / "dbt_project"),
            "--profiles-dir", str(PROJECT_DIR / "dbt_project"),
            "--target-path", str(tmp_path / "dbt_target"),
            "--log-path", str(tmp_path / "dbt_logs"),
        ],
        env=env_for(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
        )
    return result


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP API (moto's server) on 127.0.0.1 for the session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_client(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def s3_bucket(s3_client) -> str:
    name = f"lake-{uuid.uuid4().hex[:10]}"
    s3_client.create_bucket(Bucket=name)
    return name


@contextmanager
def serving(
    local: LocalAirflow, components: Sequence[str] = COMPONENTS, timeout: float = 300
) -> Iterator[None]:
    """``airflow db migrate``, start ``components`` (and wait for the DAG when a DAG processor is among
    them), and always stop them afterwards."""
    local.airflow("db", "migrate")
    try:
        local.start(components, timeout)
        if "dag-processor" in components:
            wait_for_dag(local, timeout)
        yield
    finally:
        local.stop()


@contextmanager
def scratch_metadata_db(settings: Settings) -> Iterator[str]:
    """A metadata database of its own on the test server (its SQLAlchemy URL), dropped afterwards.
    Airflow's daemons need one: on SQLite, the DAG processor run with ``--daemon`` fails with
    "locking protocol"."""
    with local_stack.scratch_databases(settings, "airflow") as names:
        yield metadata_db_url(replace(settings.warehouse, dbname=names["airflow"]))


@pytest.fixture
def metadata_db(settings: Settings) -> Iterator[str]:
    with scratch_metadata_db(settings) as url:
        yield url
