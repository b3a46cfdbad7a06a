"""The PII hash fails closed: outside development, no hash is made with the public default salt.

``prod`` (and any Redshift target) refuses to run a command that would hash PII unless
``PII_HASH_SALT`` is a secret of at least 16 characters; ``pii_require_secret_salt`` applies the
same rule on any target, which is how this test shows it on the local PostgreSQL (the real dbt
CLI, the macro every masked model calls).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from loaders.config import Settings
from tests.conftest import BIN, PROJECT_DIR, env_for


def salt_operation(
    settings: Settings, tmp_path: Path, salt: str | None, strict: bool
) -> subprocess.CompletedProcess[str]:
    env = env_for(settings)
    env.pop("PII_HASH_SALT", None)
    if salt is not None:
        env["PII_HASH_SALT"] = salt
    args = ["--vars", "{pii_require_secret_salt: true}"] if strict else []
    return subprocess.run(
        [str(BIN / "dbt"), "--no-use-colors", "run-operation", "pii_hash_salt", *args,
         "--project-dir", str(PROJECT_DIR / "dbt_project"), "--profiles-dir", str(PROJECT_DIR / "dbt_project"),
         "--target-path", str(tmp_path / "dbt_target"), "--log-path", str(tmp_path / "dbt_logs")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("salt", "reason"), [(None, "PII_HASH_SALT is not set"), ("short-salt", "shorter than 16 characters")]
)
def test_a_public_or_weak_salt_is_refused_outside_development(
    settings: Settings, tmp_path: Path, salt: str | None, reason: str
) -> None:
    result = salt_operation(settings, tmp_path, salt, strict=True)
    assert result.returncode != 0
    assert reason in result.stdout and "openssl rand" in result.stdout, result.stdout[-2000:]


def test_a_secret_salt_is_accepted_and_development_keeps_its_default(
    settings: Settings, tmp_path: Path
) -> None:
    assert salt_operation(settings, tmp_path, "4f1c0e9a7b2d4c6e8f0a1b3c", strict=True).returncode == 0
    assert salt_operation(settings, tmp_path, None, strict=False).returncode == 0
