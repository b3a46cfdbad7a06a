"""One typed configuration object, built from the environment in one place.

Every setting has a local default (the embedded PostgreSQL on 127.0.0.1:55432 and a lake folder
under ``.local/``) and an environment-variable override, so the same code points at a real
PostgreSQL, Redshift or S3. The few variables read elsewhere belong to one part each: the
S3 endpoint and encryption (``lake.py``), the failpoints of the fault tests (``failpoints.py``),
and, outside the package, the DAG's Airflow settings.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from psycopg.conninfo import make_conninfo

from loaders.errors import LoaderError

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Local-only defaults for the embedded server on the loopback interface. Real deployments set
# WAREHOUSE_* / SHOP_* (or Airflow connections); nothing here is a credential of a real system.
LOCAL_PG_PORT = 55432
LOCAL_PG_USER = "pipeline"
LOCAL_PG_PASSWORD = "local-only-password"  # not a word of any name: Airflow masks it wherever it appears
SSLMODES = ("prefer", "disable", "allow", "require", "verify-ca", "verify-full")
# a schema name that needs no quoting anywhere it reaches SQL (the loaders, dbt's sources, grants)
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# The PII hash key a local warehouse gets when PII_HASH_KEY is unset: public, so refused by
# Redshift and dbt's prod target (loaders/pii_key.py, dbt macro check_pii_hash_key).
LOCAL_PII_HASH_KEY = "local-dev-pii-key-not-a-secret"


def psql_binary(env: Mapping[str, str] | None = None) -> str:
    """The ``psql`` the shop extract runs: ``PSQL`` if set, else one on ``PATH``, else the one
    in the ``pgserver`` wheel of the local stack (a development install)."""
    env = os.environ if env is None else env
    if configured := env.get("PSQL", "").strip():
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise LoaderError(f"PSQL={configured!r} is not an executable file; point it at a psql binary")
        return configured
    if found := shutil.which("psql", path=env.get("PATH")):
        return found
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / "psql"
        if bundled.is_file():
            return str(bundled)
    raise LoaderError("no psql found: install the PostgreSQL client (psql) or set PSQL=/path/to/psql")


def drop_file_name(ds: str) -> str:
    """The name of day ``ds``'s interactions CSV in the drop."""
    return f"user_interactions_{ds}.csv"


@dataclass(frozen=True)
class PostgresTarget:
    """Where one PostgreSQL-protocol database lives (the shop source or the warehouse)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    sslmode: str = "prefer"
    connect_timeout: int = 5

    def conninfo(self) -> str:
        return make_conninfo(
            host=self.host,
            port=str(self.port),
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            sslmode=self.sslmode,
            connect_timeout=str(self.connect_timeout),
            application_name="loaders",
        )

    def describe(self) -> str:
        """A printable address, without the password."""
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"

    def url(self, with_password: bool = True) -> str:
        """A postgresql:// URL for tools such as psql (never print it with its password)."""
        secret = f":{self.password}" if with_password and self.password else ""
        return f"postgresql://{self.user}{secret}@{self.host}:{self.port}/{self.dbname}"


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    local_dir: Path
    local_pg_host: str
    local_pg_port: int
    warehouse: PostgresTarget
    shop: PostgresTarget
    airflow_db: PostgresTarget  # the local Airflow's metadata DB (`make airflow`), a login of its own
    lake_url: str
    interactions_drop_dir: Path
    raw_schema: str = "raw"
    # "postgres" (local, team stack) or "redshift" (production): how lake days reach raw
    warehouse_kind: str = "postgres"
    redshift_iam_role: str | None = None
    redshift_copy_region: str | None = None
    # where the daily interactions CSV appears: file:///folder or s3://bucket/prefix
    # (None: the local folder interactions_drop_dir)
    interactions_drop_url: str | None = None
    # the key of the PII hashes, installed in the warehouse by `python -m loaders pii-key`
    # (None: the public LOCAL_PII_HASH_KEY, accepted by local warehouses only)
    pii_hash_key: str | None = field(default=None, repr=False)

    @property
    def local_pg_dir(self) -> Path:
        return self.local_dir / "pg"

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_dir / "dbt_project"

    @property
    def drop_url(self) -> str:
        return self.interactions_drop_url or self.interactions_drop_dir.as_uri()

    def interactions_drop_file(self, ds: str) -> Path:
        """Where the daily drop of interactions for day ``ds`` is written locally (sample data)."""
        return self.interactions_drop_dir / drop_file_name(ds)

    def with_overrides(self, **changes: Any) -> Settings:  # as dataclasses.replace: any field's value
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        project_dir = Path(env.get("PIPELINE_PROJECT_DIR", PROJECT_DIR)).resolve()
        local_dir = Path(env.get("PIPELINE_LOCAL_DIR", project_dir / ".local")).resolve()
        local_host = env.get("LOCAL_PG_HOST", "127.0.0.1")
        local_port = _port(env, "LOCAL_PG_PORT", LOCAL_PG_PORT)

        def target(prefix: str, dbname: str, user: str = LOCAL_PG_USER) -> PostgresTarget:
            return PostgresTarget(
                host=env.get(f"{prefix}_HOST", local_host),
                port=_port(env, f"{prefix}_PORT", local_port),
                user=env.get(f"{prefix}_USER", user),
                password=env.get(f"{prefix}_PASSWORD", LOCAL_PG_PASSWORD),
                dbname=env.get(f"{prefix}_DBNAME", dbname),
                sslmode=_choice(env, f"{prefix}_SSLMODE", SSLMODES),
            )

        return cls(
            project_dir=project_dir,
            local_dir=local_dir,
            local_pg_host=local_host,
            local_pg_port=local_port,
            warehouse=target("WAREHOUSE", "warehouse"),
            shop=target("SHOP", "shop"),
            airflow_db=target("AIRFLOW_DB", "airflow", user="airflow"),
            lake_url=env.get("LAKE_URL", (local_dir / "lake").as_uri()),
            interactions_drop_dir=Path(env.get("INTERACTIONS_DROP_DIR", local_dir / "drop" / "interactions")),
            raw_schema=_schema(env, "RAW_SCHEMA", "raw"),
            warehouse_kind=_choice(env, "WAREHOUSE_KIND", ("postgres", "redshift")),
            redshift_iam_role=env.get("REDSHIFT_IAM_ROLE") or None,
            redshift_copy_region=env.get("REDSHIFT_COPY_REGION") or None,
            interactions_drop_url=env.get("INTERACTIONS_DROP_URL") or None,
            pii_hash_key=env.get("PII_HASH_KEY") or None,
        )


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:  # unset or empty
        return default
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise LoaderError(
            f"{name}={value!r} is not a port: set it to a whole number from 1 to 65535, e.g. 5432"
        )
    return port


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise LoaderError(f"{name}={env.get(name)!r}: set it to one of {', '.join(choices)}")
    return value


def _schema(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default)
    if not SCHEMA_NAME.fullmatch(value) or value.startswith("pg_"):
        raise LoaderError(
            f"{name}={value!r} is not a schema name this pipeline uses: set it to lower-case letters, "
            "digits and _ (at most 63, not starting with a digit or pg_), e.g. raw"
        )
    return value
