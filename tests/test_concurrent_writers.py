"""Concurrent writers of one day serialise or fail cleanly, never corrupt it; writers of
different tables run side by side.

Two real ``python -m loaders`` processes write the same day at the same moment, 20 times per
path, on moto's S3 server (the lake's publish is a conditional PUT: one wins, the other is
refused with one line and leaves nothing) and on the local lake (a lock per day: they wait for
each other). After every trial the published day is whole and loads with its manifest's counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from loaders.config import Settings
from loaders.days import day_prefix
from loaders.lake import Lake
from loaders.load import load_day
from loaders.sample_data import write_interactions_csv
from tests.conftest import PROJECT_DIR, env_for
from tests.test_faults import assert_in_step, lake_state

DS = "2026-11-20"
TRIALS = 20


def s3_env(settings: Settings, bucket: str, **extra: str) -> dict[str, str]:
    return env_for(
        settings,
        LAKE_URL=f"s3://{bucket}/lake",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL_S3=os.environ["AWS_ENDPOINT_URL_S3"],
        **extra,
    )


def race(env: dict[str, str], *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Start the commands at the same moment; wait for all."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "loaders", *args],
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    done = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


def assert_clean_outcomes(results: list[subprocess.CompletedProcess[str]]) -> int:
    """At least one writer won; a loser said so in one line. Returns the number that won."""
    for result in results:
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1 and "another writer" in errors[0], result.stderr[-2000:]
    wins = sum(r.returncode == 0 for r in results)
    assert wins >= 1, [r.stderr[-500:] for r in results]
    return wins


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    a = write_interactions_csv(tmp_path / "a.csv", DS, rows=3_000).path
    b = write_interactions_csv(tmp_path / "b.csv", DS, rows=3_200, seed=9).path
    return a, b


def test_two_lake_only_writers_of_a_day_on_s3_never_break_it(
    settings: Settings, wh, s3_client, s3_bucket: str, two_files
) -> None:
    env = s3_env(settings, s3_bucket)
    lake = Lake.from_url(f"s3://{s3_bucket}/lake", s3_client=s3_client)
    prefix = day_prefix("interactions", "user_interactions", DS)
    for _ in range(TRIALS):
        results = race(
            env, *(["interactions", "--file", str(f), "--ds", DS, "--no-warehouse"] for f in two_files)
        )
        assert_clean_outcomes(results)
        manifest = lake_state(lake, prefix)
        loaded = load_day(lake, settings.warehouse, "interactions", "user_interactions", DS)
        assert loaded.rows_loaded == manifest["rows_valid"]
        assert_in_step(lake, wh, "interactions", "user_interactions")


def test_two_writers_of_a_day_on_s3_with_the_warehouse_serialise(
    settings: Settings, wh, s3_client, s3_bucket: str, two_files
) -> None:
    env = s3_env(settings, s3_bucket)
    lake = Lake.from_url(f"s3://{s3_bucket}/lake", s3_client=s3_client)
    for _ in range(TRIALS):
        results = race(env, *(["interactions", "--file", str(f), "--ds", DS] for f in two_files))
        assert assert_clean_outcomes(results) == 2  # the (table, day) lock makes them take turns
        assert_in_step(lake, wh, "interactions", "user_interactions")


def test_two_extracts_of_a_shop_day_on_s3_never_break_it(
    settings: Settings, wh, s3_client, s3_bucket: str
) -> None:
    env = s3_env(settings, s3_bucket)
    made = subprocess.run(
        [sys.executable, "-m", "loaders", "generate", "--ds", DS, "--rows", "100"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    lake = Lake.from_url(f"s3://{s3_bucket}/lake", s3_client=s3_client)
    prefix = day_prefix("shop", "orders", DS)
    extract = ["extract", "--ds", DS, "--full", "--table", "orders"]
    for _ in range(TRIALS):
        assert_clean_outcomes(race(env, extract, extract))
        manifest = lake_state(lake, prefix)
        assert load_day(lake, settings.warehouse, "shop", "orders", DS).rows_loaded == manifest["rows_valid"]
        assert_in_step(lake, wh, "shop", "orders")


def test_two_writers_of_a_day_on_the_local_lake_take_turns(
    settings: Settings, wh, lake: Lake, two_files
) -> None:
    env = env_for(settings)
    for _ in range(5):
        results = race(env, *(["interactions", "--file", str(f), "--ds", DS] for f in two_files))
        assert assert_clean_outcomes(results) == 2
        assert_in_step(lake, wh, "interactions", "user_interactions")


def test_a_load_waiting_on_one_table_does_not_hold_up_another_table(settings: Settings, wh) -> None:
    """A 200-row products load finishes while a sales load of the same day is held up."""
    env = env_for(settings)
    run = [sys.executable, "-m", "loaders"]
    made = subprocess.run([*run, "generate", "--ds", DS, "--rows", "100"], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert made.returncode == 0, made.stderr
    first = subprocess.run([*run, "extract", "--ds", DS, "--full", "--load"], cwd=PROJECT_DIR, env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert first.returncode == 0, first.stderr
    with psycopg.connect(settings.warehouse.conninfo()) as blocker:
        blocker.execute("lock table raw.sales in access exclusive mode")  # held until rollback
        sales = subprocess.Popen([*run, "load", "--ds", DS, "--table", "sales"], cwd=PROJECT_DIR, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while not wh.execute(
            "select count(*) from pg_locks where not granted and relation = 'raw.sales'::regclass"
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the sales load never reached its table"
            time.sleep(0.05)
        started = time.monotonic()
        products = subprocess.run([*run, "load", "--ds", DS, "--table", "products"], cwd=PROJECT_DIR, env=env,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
        assert products.returncode == 0, products.stderr
        assert time.monotonic() - started < 30
        assert sales.poll() is None  # still waiting for its own table
        blocker.rollback()
    _, err = sales.communicate(timeout=120)
    assert sales.returncode == 0, err


def test_the_first_load_of_a_new_table_does_not_wait_for_loads_of_other_tables(
    settings: Settings, wh
) -> None:
    """Creating a raw table the first time touches nothing another load holds: the shared DDL
    (which alters load_audit) runs only when the shared tables are missing."""
    env = env_for(settings)
    run = [sys.executable, "-m", "loaders"]
    for args in (["generate", "--ds", DS, "--rows", "100"], ["extract", "--ds", DS, "--full", "--table", "products"],
                 ["interactions", "--ds", DS]):  # fmt: skip
        done = subprocess.run(
            [*run, *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    with psycopg.connect(settings.warehouse.conninfo()) as other_load:  # a load mid-transaction
        other_load.execute("select count(*) from raw.load_audit")
        first = subprocess.run([*run, "load", "--ds", DS, "--table", "products"], cwd=PROJECT_DIR, env=env,
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert first.returncode == 0, first.stderr
        other_load.rollback()
    assert wh.execute("select count(*) from raw.products").fetchone()[0] > 0
