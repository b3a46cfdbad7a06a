"""Faults at every commit-relevant point of ingest, extract and load: nothing is lost, and the
lake and raw end on the same version of the day.

Each case loads a day, then runs a re-delivery through the real command line with a failpoint
(``loaders/failpoints.py``): the process stops at that point, the test kills it (SIGKILL) or
terminates its database session, and lets it go on. Then: raw holds one whole version of the
day, the one the lake has published (after ``loaders reconcile`` where a crash fell between
raw's commit and the lake's publish), every object the manifest lists is there with its
checksum, and a re-run completes with the new file's counts.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from loaders import local_stack
from loaders.config import Settings
from loaders.days import day_prefix
from loaders.lake import Lake, version_of
from loaders.sample_data import write_interactions_csv
from tests.conftest import PROJECT_DIR, env_for, run_dbt
from tests.reference import expected_from_csv

pytestmark = pytest.mark.faults

DS = "2026-11-20"


def start_cli(settings: Settings, *args: str, point: str | None = None, folder: Path | None = None):
    extra = {"LOADERS_FAILPOINT": point, "LOADERS_FAILPOINT_DIR": str(folder)} if point else {}
    return subprocess.Popen(
        [sys.executable, "-m", "loaders", *args], cwd=PROJECT_DIR, env=env_for(settings, **extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    process = start_cli(settings, *args)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def wait_for_marker(marker: Path, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(f"the load ended before its failpoint: {process.stderr.read()[-2000:]}")
        assert time.monotonic() < deadline, f"{marker.name} never reached"
        time.sleep(0.02)


def terminate_sessions(wh: psycopg.Connection) -> int:
    rows = wh.execute(
        "select pg_terminate_backend(pid) from pg_stat_activity "
        "where datname = current_database() and pid <> pg_backend_pid()"
    ).fetchall()
    return len(rows)


def inject(settings: Settings, wh, tmp_path: Path, args: list[str], point: str, action: str):
    """Run ``args`` until ``point``, apply ``action`` there, and return the finished process."""
    folder = tmp_path / "failpoints"
    folder.mkdir(exist_ok=True)
    process = start_cli(settings, *args, point=point, folder=folder)
    marker = folder / f"{point.replace(':', '-')}.reached"
    wait_for_marker(marker, process)
    if action == "kill":
        os.kill(process.pid, signal.SIGKILL)
    else:
        assert terminate_sessions(wh) >= 1
        marker.unlink()
    out, err = process.communicate(timeout=120)
    if action == "kill":
        assert process.returncode == -signal.SIGKILL
    else:  # the session is gone: one clear line, no traceback
        assert process.returncode != 0, out
        assert "Traceback" not in err, err[-3000:]
        assert [line for line in err.splitlines() if line.startswith("error:")], err[-2000:]
    return process


def lake_state(lake: Lake, prefix: str) -> dict:
    """The published version of a day, checked whole: every listed object there, checksums equal."""
    manifest = lake.read_manifest(prefix)
    for entry in [*manifest["parts"], *([manifest["rejects"]] if manifest.get("rejects") else [])]:
        with lake.open_read(f"{prefix}/{entry['key']}") as f:
            data = f.read()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["key"]
        lines = gzip.decompress(data).count(b"\n") - 1  # minus the header
        assert lines >= entry["rows"], entry["key"]
    return manifest


def raw_state(wh: psycopg.Connection, table: str) -> tuple[str | None, int, int]:
    version = wh.execute(
        "select lake_version from raw.load_audit where table_name = %s and ds = %s order by load_id desc limit 1",
        (table, DS),
    ).fetchone()
    rows = wh.execute(f"select count(*) from raw.{table} where _ds = %s", (DS,)).fetchone()[0]
    rejects = 0
    if table == "user_interactions":
        rejects = wh.execute(
            "select count(*) from raw.user_interactions_rejects where _ds = %s", (DS,)
        ).fetchone()[0]
    return (version[0] if version else None), rows, rejects


def assert_in_step(lake: Lake, wh, source: str, table: str, *, raw_may_lag: bool = False) -> dict:
    """Raw holds one whole version, the lake's published one (or, when the lake is written first
    and raw not loaded yet, the previous one, still whole in the lake)."""
    prefix = day_prefix(source, table, DS)
    manifest = lake_state(lake, prefix)
    version, rows, rejects = raw_state(wh, table)
    if version != manifest["version"]:
        assert raw_may_lag, f"raw holds {version}, the lake published {manifest['version']}"
        held = lake.read_version_manifest(prefix, version)
        assert held is not None, f"raw holds version {version}, which the lake no longer has"
        manifest = held
    assert rows == manifest["rows_valid"]
    if table == "user_interactions":
        assert rejects == manifest["rows_rejected"]
    return manifest


# --- ingest: the interactions file, one pass into the lake and raw -------------------------------

INGEST_FAULTS = [
    ("ingest:copy-started", "kill"),
    ("ingest:copy-started", "terminate-session"),
    ("ingest:staged", "kill"),
    ("ingest:before-commit", "kill"),
    ("ingest:before-commit", "terminate-session"),
    ("ingest:committed", "kill"),
    ("lake:published", "kill"),
    ("ingest:published", "kill"),
]


@pytest.fixture
def loaded_day(settings: Settings, wh, tmp_path: Path):
    """A day loaded from a first file, and a bigger second delivery of it (several blocks)."""
    first = write_interactions_csv(tmp_path / "first.csv", DS, rows=30_000).path
    second = write_interactions_csv(tmp_path / "second.csv", DS, rows=60_000, seed=7)
    done = run_cli(settings, "interactions", "--file", str(first), "--ds", DS)
    assert done.returncode == 0, done.stderr
    return first, second


@pytest.mark.parametrize(("point", "action"), INGEST_FAULTS, ids=[f"{p}-{a}" for p, a in INGEST_FAULTS])
def test_an_ingest_stopped_at_any_point_leaves_one_version_in_both(
    settings: Settings, wh, lake: Lake, tmp_path: Path, loaded_day, point: str, action: str
) -> None:
    _first, second = loaded_day
    before = assert_in_step(lake, wh, "interactions", "user_interactions")
    args = ["interactions", "--file", str(second.path), "--ds", DS]
    inject(settings, wh, tmp_path, args, point, action)

    if point == "ingest:committed":  # raw committed, the lake's publish never came
        assert (
            raw_state(wh, "user_interactions")[0]
            != lake.read_manifest(day_prefix("interactions", "user_interactions", DS))["version"]
        )
        settled = run_cli(settings, "reconcile", "--ds", DS)
        assert settled.returncode == 0, settled.stderr
        assert "rolled the lake forward" in settled.stdout
    after = assert_in_step(lake, wh, "interactions", "user_interactions")
    committed = point in ("ingest:committed", "lake:published", "ingest:published")
    assert after["version"] != before["version"] if committed else after["version"] == before["version"]

    rerun = run_cli(settings, *args)
    assert rerun.returncode == 0, rerun.stderr
    final = assert_in_step(lake, wh, "interactions", "user_interactions")
    expected = expected_from_csv(second.path)
    assert (final["rows_read"], final["rows_valid"], final["rows_rejected"]) == (
        expected.lines_read, len(expected.structurally_valid), len(expected.structural_rejects),
    )  # fmt: skip
    # nothing of the dead writer or of the replaced versions is left: only the final version
    assert versions_in(lake, "interactions", "user_interactions") == {final["version"]}


# --- extract then load: the shop tables, lake first ----------------------------------------------


@pytest.fixture
def shop_day(settings: Settings, tmp_path: Path):
    made = run_cli(settings, "generate", "--ds", DS, "--rows", "1000", "--orders-per-day", "400")
    assert made.returncode == 0, made.stderr
    done = run_cli(settings, "extract", "--ds", DS, "--full", "--table", "sales", "--load")
    assert done.returncode == 0, done.stderr
    return ["extract", "--ds", DS, "--full", "--table", "sales"]


EXTRACT_FAULTS = [("extract:copy-started", "kill"), ("extract:staged", "kill"), ("lake:published", "kill"),
                  ("extract:published", "kill")]  # fmt: skip
LOAD_FAULTS = [
    ("load:copy-started", "kill"),
    ("load:copy-started", "terminate-session"),
    ("load:before-commit", "kill"),
    ("load:before-commit", "terminate-session"),
    ("load:committed", "kill"),
]


@pytest.mark.parametrize(("point", "action"), EXTRACT_FAULTS, ids=[f"{p}-{a}" for p, a in EXTRACT_FAULTS])
def test_an_extract_stopped_at_any_point_keeps_the_version_raw_holds(
    settings: Settings, wh, lake: Lake, tmp_path: Path, shop_day, point: str, action: str
) -> None:
    before = assert_in_step(lake, wh, "shop", "sales")
    inject(settings, wh, tmp_path, shop_day, point, action)
    after = assert_in_step(lake, wh, "shop", "sales", raw_may_lag=True)
    published = point in ("lake:published", "extract:published")
    assert (after["version"] == before["version"]) is True  # raw still holds the old version, whole
    assert (lake.read_manifest(day_prefix("shop", "sales", DS))["version"] != before["version"]) is published
    rerun = run_cli(settings, *shop_day, "--load")
    assert rerun.returncode == 0, rerun.stderr
    final = assert_in_step(lake, wh, "shop", "sales")
    assert final["rows_valid"] == before["rows_valid"]  # the same rows extracted again
    assert versions_in(lake, "shop", "sales") == {final["version"]}


@pytest.mark.parametrize(("point", "action"), LOAD_FAULTS, ids=[f"{p}-{a}" for p, a in LOAD_FAULTS])
def test_a_load_stopped_at_any_point_leaves_raw_on_a_whole_version(
    settings: Settings, wh, lake: Lake, tmp_path: Path, shop_day, point: str, action: str
) -> None:
    before = assert_in_step(lake, wh, "shop", "sales")
    extracted = run_cli(settings, *shop_day)  # a new version in the lake, raw not loaded yet
    assert extracted.returncode == 0, extracted.stderr
    inject(settings, wh, tmp_path, ["load", "--ds", DS, "--table", "sales"], point, action)
    after = assert_in_step(lake, wh, "shop", "sales", raw_may_lag=True)
    committed = point == "load:committed"
    assert (raw_state(wh, "sales")[0] != before["version"]) is committed
    assert after["rows_valid"] == before["rows_valid"]
    rerun = run_cli(settings, "load", "--ds", DS, "--table", "sales")
    assert rerun.returncode == 0, rerun.stderr
    final = assert_in_step(lake, wh, "shop", "sales")
    # raw holds the published version: the one it replaced is retired
    assert versions_in(lake, "shop", "sales") == {final["version"]}


def versions_in(lake: Lake, source: str, table: str) -> set[str]:
    return {v for name in lake.list_day(day_prefix(source, table, DS)) if (v := version_of(name))}


# --- the server restarted during a dbt build ------------------------------------------------------


def marts_state(settings: Settings) -> dict[str, object]:
    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('marts', 'reports') order by 1, 2"
        ).fetchall()
        state: dict[str, object] = {f"{s}.{t}": conn.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                                    for s, t in tables}  # fmt: skip
        state["pairs"] = conn.execute(
            "select md5(string_agg(p::text, '|' order by p::text)) from marts.fct_user_product_interactions p"
        ).fetchone()[0]
    return state


def test_postgres_restarted_during_a_dbt_build_then_a_rerun_gives_the_same_marts(
    pg_settings: Settings, settings: Settings, tmp_path: Path
) -> None:
    for args in (["generate", "--ds", DS, "--rows", "5000"], ["extract", "--ds", DS, "--full", "--load"],
                 ["interactions", "--ds", DS]):  # fmt: skip
        done = run_cli(settings, *args)
        assert done.returncode == 0, done.stderr
    run_dbt(settings, tmp_path, "build")
    expected = marts_state(settings)
    assert expected["marts.fct_user_product_interactions"] > 0

    build = subprocess.Popen(
        [str(PROJECT_DIR / ".venv/bin/dbt"), "--no-use-colors", "build", "--full-refresh",
         "--project-dir", str(PROJECT_DIR / "dbt_project"), "--profiles-dir", str(PROJECT_DIR / "dbt_project"),
         "--target-path", str(tmp_path / "t2"), "--log-path", str(tmp_path / "l2")],
        env=env_for(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert build.stdout is not None
    built = 0
    for line in build.stdout:  # restart the server once a few models are built
        built += " OK created " in line
        if built == 5:
            break
    local_stack.down(pg_settings)
    local_stack.up(pg_settings)
    build.communicate(timeout=600)
    assert build.returncode != 0, "the build did not notice the restart"

    rerun = run_dbt(settings, tmp_path, "build")
    assert rerun.returncode == 0
    assert marts_state(settings) == expected
