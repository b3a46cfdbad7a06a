"""The PII hash key: installed in the warehouse with a parameterized statement, checked before
anything is hashed with it, refused outside development when it is public or short.

The check is the real dbt CLI (`dbt run-operation check_pii_hash_key`, the macro every run that
builds a hashing model calls first) against the local PostgreSQL; `pii_require_secret_key`
applies there the rule of prod and of any Redshift target.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from loaders import pii_key
from loaders.config import LOCAL_PII_HASH_KEY, Settings
from loaders.errors import LoaderError
from tests.conftest import BIN, PROJECT_DIR, env_for

SECRET = "4f1c0e9a7b2d4c6e8f0a1b3c"


def check_key(settings: Settings, tmp_path: Path, strict: bool) -> subprocess.CompletedProcess[str]:
    args = ["--vars", "{pii_require_secret_key: true}"] if strict else []
    return subprocess.run(
        [str(BIN / "dbt"), "--no-use-colors", "run-operation", "check_pii_hash_key", *args,
         "--project-dir", str(PROJECT_DIR / "dbt_project"), "--profiles-dir", str(PROJECT_DIR / "dbt_project"),
         "--target-path", str(tmp_path / "dbt_target"), "--log-path", str(tmp_path / "dbt_logs")],
        env=env_for(settings), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def install(settings: Settings, key: str) -> pii_key.KeyInstall:
    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        return pii_key.install_hash_key(conn, key, where="the test warehouse", replace=True)


def installed_keys(settings: Settings) -> list[str]:
    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        return [row[0] for row in conn.execute("select hash_key from pii_keys.hash_key")]


def test_without_a_key_in_the_warehouse_nothing_is_hashed_on_any_target(
    settings: Settings, tmp_path: Path
) -> None:
    with psycopg.connect(settings.warehouse.conninfo(), autocommit=True) as conn:
        conn.execute("drop schema pii_keys cascade")
    result = check_key(settings, tmp_path, strict=False)
    assert result.returncode != 0
    assert "no PII hash key in the warehouse" in result.stdout, result.stdout[-2000:]
    assert "python -m loaders pii-key" in result.stdout


@pytest.mark.parametrize(
    ("key", "reason"),
    [(LOCAL_PII_HASH_KEY, "the public development key"), ("short-key", "shorter than 16 characters")],
)
def test_a_public_or_short_key_is_refused_outside_development(
    settings: Settings, tmp_path: Path, key: str, reason: str
) -> None:
    install(settings, key)
    result = check_key(settings, tmp_path, strict=True)
    assert result.returncode != 0
    assert reason in result.stdout and "openssl rand" in result.stdout, result.stdout[-2000:]
    assert "PII_HASH_KEY" in result.stdout


def test_a_secret_key_is_accepted_and_development_keeps_its_default(
    settings: Settings, tmp_path: Path
) -> None:
    assert installed_keys(settings) == [LOCAL_PII_HASH_KEY]  # what the local stack installs
    assert check_key(settings, tmp_path, strict=False).returncode == 0
    install(settings, SECRET)
    assert check_key(settings, tmp_path, strict=True).returncode == 0


def test_another_key_replaces_the_installed_one_only_when_asked(settings: Settings) -> None:
    other = settings.with_overrides(pii_hash_key=SECRET)
    with pytest.raises(LoaderError, match=r"already holds another PII hash key.*--replace"):
        pii_key.install_from_settings(other)
    assert installed_keys(settings) == [LOCAL_PII_HASH_KEY]
    assert pii_key.install_local_key(other).outcome == "kept"  # `make up` keeps it too
    assert pii_key.install_from_settings(other, replace=True).outcome == "replaced"
    assert pii_key.install_from_settings(other).outcome == "unchanged"
    assert installed_keys(settings) == [SECRET]


def test_the_key_reaches_the_warehouse_as_a_parameter_only(settings: Settings) -> None:
    """No statement sent carries the key: a key full of SQL arrives intact."""

    class Recording:
        def __init__(self, conn: psycopg.Connection) -> None:
            self.conn, self.statements = conn, []

        def cursor(self) -> Recording:
            self.cur = self.conn.cursor()
            return self

        def __enter__(self) -> Recording:
            return self

        def __exit__(self, *exc: object) -> None:
            self.cur.close()

        def execute(self, statement: str, params: tuple = ()) -> None:
            self.statements.append(statement)
            self.cur.execute(statement, params)

        def fetchone(self) -> tuple | None:
            return self.cur.fetchone()

        def commit(self) -> None:
            self.conn.commit()

        def rollback(self) -> None:
            self.conn.rollback()

    key = "x'); drop table pii_keys.hash_key; -- " + SECRET
    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        recording = Recording(conn)
        pii_key.install_hash_key(recording, key, where="the test warehouse", replace=True)
    assert recording.statements and not [s for s in recording.statements if SECRET in s]
    assert installed_keys(settings) == [key]


@pytest.mark.parametrize(
    ("key", "reason"),
    [(None, "PII_HASH_KEY is not set"), (LOCAL_PII_HASH_KEY, "is not set"), ("short-key", "shorter than 16")],
)
def test_redshift_gets_no_public_or_short_key(pg_settings: Settings, key: str | None, reason: str) -> None:
    redshift = pg_settings.with_overrides(warehouse_kind="redshift", pii_hash_key=key)
    with pytest.raises(LoaderError, match=rf"{reason}.*openssl rand -hex 32"):
        pii_key.install_from_settings(redshift)


def test_the_command_installs_the_key_from_the_environment(settings: Settings) -> None:
    command = [str(BIN / "python"), "-m", "loaders", "pii-key", "--replace"]
    result = subprocess.run(
        command, env=env_for(settings, PII_HASH_KEY=SECRET), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "PII hash key replaced in pii_keys.hash_key" in result.stdout
    assert SECRET not in result.stdout + result.stderr
    assert installed_keys(settings) == [SECRET]


def test_the_reference_hash_is_keyed_and_normalised() -> None:
    assert pii_key.pii_hash("k" * 16, "  Ada@Example.com ") == pii_key.pii_hash("k" * 16, "ada@example.com")
    assert pii_key.pii_hash("k" * 16, "ada@example.com") != pii_key.pii_hash("j" * 16, "ada@example.com")
    assert pii_key.pii_hash("k" * 16, "   ") is None and pii_key.pii_hash("k" * 16, None) is None
