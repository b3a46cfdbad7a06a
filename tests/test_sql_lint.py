"""The dbt SQL passes sqlfluff (dbt templater, `dbt_project/.sqlfluff`), as `make lint-sql` runs it.

The dbt templater compiles every file against the warehouse of the `dev` target: here the
test session's server, with dbt's artifacts kept out of `dbt_project/target` (the DAG's manifest).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from loaders.config import Settings
from tests.conftest import BIN, PROJECT_DIR, env_for

SQL_PATHS = ("models", "analyses", "tests", "snapshots")


def test_the_dbt_sql_passes_sqlfluff(settings: Settings, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "sqlfluff"), "lint", *SQL_PATHS, "--processes", "2", "--nocolor"],
        cwd=PROJECT_DIR / "dbt_project",
        env=env_for(settings, DBT_TARGET_PATH=str(tmp_path / "target"), DBT_LOG_PATH=str(tmp_path / "logs")),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, (
        f"sqlfluff found problems (fix them, or run `make fix-sql`):\n{result.stdout[-8000:]}\n"
        f"{result.stderr[-2000:]}"
    )
    assert "All Finished" in result.stdout
