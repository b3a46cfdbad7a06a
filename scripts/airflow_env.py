"""How this project configures Airflow, in one place: the environment of every ``airflow`` process it
starts itself (``make run``'s ``airflow dags test``, ``make airflow*``, the tests, the benchmarks).

docker-compose.yml sets the same keys for the team stack (tests/test_docker_compose.py holds it to them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def airflow_home() -> Path:
    """The local installation's home: AIRFLOW_HOME, else .local/airflow (the Makefile's default)."""
    return Path(os.environ.get("AIRFLOW_HOME") or PROJECT_DIR / ".local" / "airflow").resolve()


def airflow_env(
    home: Path, base: Mapping[str, str] | None = None, *, port: int = 8080, metadata_db_url: str | None = None
) -> dict[str, str]:
    """``base`` (default: this process's environment) with the settings of the Airflow installation in
    ``home`` whose api-server listens on 127.0.0.1:``port``. The metadata DB is ``metadata_db_url``, else
    the one ``base`` names, else SQLite in ``home``; ``base`` may also name its own Cosmos cache folder."""
    base = dict(os.environ if base is None else base)
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
        **base,
        **({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db_url} if metadata_db_url else {}),
        "AIRFLOW_HOME": str(home),
        "PYTHONPATH": str(PROJECT_DIR),
        "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '/usr/bin:/bin')}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "airflow_plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",  # task slots: the machine has few cores
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",  # also where tasks find the execution API
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # the dbt producer task is not retried (dags/etl_pipeline.py): no backup of its results to keep
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
