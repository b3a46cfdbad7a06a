"""Loader benchmark: this project's ingest against the physical limit and the naive way.

On one generated interactions CSV (value dirt, no structurally broken line, so the baseline
can read it), interleaved in one run:

  (a) the limit:  ``psql \\copy`` of the file into an equivalent table (5 text columns)
  (b) ours:       ``ingest_interactions``: validation, lake csv.gz + manifest, COPY into the day
                  partition with lineage, quarantine, audit, partition swap
  (c) the naive:  pandas ``read_csv`` + ``DataFrame.to_sql`` (SQLAlchemy, psycopg 3)

It prints medians and the ratios b/a and c/b, and the peak memory of (b) at two file sizes
(it streams: the peak must not grow with the file). Then the shop path: a 1M-row ``sales``
table extracted to the lake, then loaded into raw (as the DAG runs it: two steps), against
two limits: ``psql \\copy (select ...) to`` a file then ``\\copy ... from`` it (the staged
limit, the same two steps with nothing but COPY), and a direct ``psql | psql`` pipe (both COPYs
at once, landing nothing: the floor for any database-to-database move).

Run with ``make bench`` (uses the local stack, in a database of its own that it drops).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loaders import local_stack
from loaders.config import Settings
from loaders.sample_data import write_interactions_csv

DS = "2026-11-20"

# (b) runs in a fresh process each time so its peak memory can be read; it reports its own
# elapsed time for the ingest call only (not the interpreter's start-up)
INGEST = r"""
import json, sys, time, logging
from loaders.config import PostgresTarget
from loaders.interactions import ingest_interactions
from loaders.lake import Lake
target = PostgresTarget(**json.loads(sys.argv[3]))
start = time.perf_counter()
result = ingest_interactions(sys.argv[1], sys.argv[2], lake=Lake.from_url(sys.argv[4]), warehouse_target=target)
elapsed = time.perf_counter() - start
# VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across exec)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": elapsed, "rows": result.rows_loaded, "peak_mb": peak_kb / 1024}))
"""

EXTRACT_LOAD = r"""
import json, sys, time
from loaders.config import PostgresTarget
from loaders.lake import Lake
from loaders.load import load_day
from loaders.shop import SHOP_TABLES, extract_table
shop, wh = PostgresTarget(**json.loads(sys.argv[1])), PostgresTarget(**json.loads(sys.argv[2]))
lake = Lake.from_url(sys.argv[3])
start = time.perf_counter()
extracted = extract_table(shop, lake, SHOP_TABLES["sales"], sys.argv[4], full=True)
middle = time.perf_counter()
loaded = load_day(lake, wh, "shop", "sales", sys.argv[4])
end = time.perf_counter()
assert loaded.rows_loaded == extracted.rows
print(json.dumps({"extract_seconds": middle - start, "load_seconds": end - middle, "rows": extracted.rows}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7, help="interleaved runs of each timing")
    parser.add_argument("--naive-runs", type=int, default=1, help="runs of (c), the slow one")
    parser.add_argument("--sales-rows", type=int, default=1_000_000)
    args = parser.parse_args()

    settings = Settings.from_env()
    local_stack.up(settings)
    with local_stack.scratch_databases(settings, "bench_wh", "bench_shop") as names:
        wh = replace(settings.warehouse, dbname=names["bench_wh"])
        shop = replace(settings.shop, dbname=names["bench_shop"])
        with tempfile.TemporaryDirectory(prefix="loaders-bench-") as folder:
            run(Path(folder), wh, shop, args)


def run(folder: Path, wh, shop, args: argparse.Namespace) -> None:
    csv_path = folder / "interactions.csv"
    made = write_interactions_csv(csv_path, DS, rows=args.rows, broken_lines=False)
    print(f"\n== interactions: {args.rows:,} rows, {made.bytes / 1e6:.0f} MB CSV ({os.cpu_count()} cores)")
    with psycopg.connect(wh.conninfo(), autocommit=True) as conn:
        conn.execute(
            'create table bench_copy (interaction_id text, user_id text, product_id text, action text, "timestamp" text)'
        )
    env = {**os.environ, "PGPASSWORD": wh.password}
    psql = [
        str(local_stack.psql_path()),
        "-q",
        "-h",
        wh.host,
        "-p",
        str(wh.port),
        "-U",
        wh.user,
        "-d",
        wh.dbname,
    ]
    target_json = json.dumps({k: getattr(wh, k) for k in ("host", "port", "user", "password", "dbname")})
    lake_url = (folder / "lake").as_uri()

    times: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    peaks = []
    for i in range(args.runs):
        subprocess.run([*psql, "-c", "truncate bench_copy"], env=env, check=True)
        start = time.perf_counter()
        subprocess.run(
            [*psql, "-c", f"\\copy bench_copy from '{csv_path}' (format csv, header)"], env=env, check=True
        )
        times["a"].append(time.perf_counter() - start)

        report = run_python(INGEST, [str(csv_path), DS, target_json, lake_url], env)
        times["b"].append(report["seconds"])
        peaks.append(report["peak_mb"])

        if i < args.naive_runs:
            times["c"].append(naive_load(csv_path, wh))
        print(
            f"  run {i + 1}: (a) psql \\copy {times['a'][-1]:.2f}s  (b) ingest {times['b'][-1]:.2f}s"
            + (f"  (c) pandas to_sql {times['c'][-1]:.1f}s" if i < args.naive_runs else "")
        )

    a, b, c = (statistics.median(times[k]) for k in "abc")
    print(
        f"  medians: (a) {a:.2f}s = {args.rows / a:,.0f} rows/s | (b) {b:.2f}s = {args.rows / b:,.0f} rows/s | (c) {c:.1f}s"
    )
    print(f"  b/a = {b / a:.2f}   (ingest vs the COPY limit; target <= 1.3)")
    print(f"  c/b = {c / b:.0f}   (pandas to_sql vs ingest)")

    half = folder / "interactions_quarter.csv"
    write_interactions_csv(half, DS, rows=args.rows // 4, broken_lines=False)
    # a lake of its own: in the first one the smaller file would be refused as a shrunken day
    small = run_python(INGEST, [str(half), DS, target_json, (folder / "lake_quarter").as_uri()], env)
    small_peak = small["peak_mb"]
    print(
        f"  peak memory of (b): {small_peak:.0f} MB at {args.rows // 4:,} rows, {statistics.median(peaks):.0f} MB at "
        f"{args.rows:,} rows (flat: the file is streamed)"
    )
    csv_path.unlink()
    sales(folder, wh, shop, args, env)


def run_python(script: str, arguments: list[str], env: dict) -> dict:
    """Run ``script`` in a fresh interpreter; return the JSON report on its last line."""
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"a timed run failed (exit code {done.returncode}):\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def naive_load(csv_path: Path, wh) -> float:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(f"postgresql+psycopg://{wh.user}:{wh.password}@{wh.host}:{wh.port}/{wh.dbname}")
    start = time.perf_counter()
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_values=[""])
    frame.to_sql("bench_pandas", engine, if_exists="replace", index=False)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def sales(folder: Path, wh, shop, args: argparse.Namespace, env: dict) -> None:
    rows = args.sales_rows
    print(f"\n== shop sales: {rows:,} rows, extract to the lake + load into raw")
    with psycopg.connect(shop.conninfo(), autocommit=True) as conn:
        conn.execute(
            """
            create table sales (sale_id bigint primary key, order_id bigint not null, product_id bigint not null,
                quantity integer not null, unit_price numeric(10,2) not null, discount numeric(10,2) not null,
                sold_at timestamptz not null, updated_at timestamptz not null)
            """
        )
        conn.execute(
            """
            insert into sales
            select i, i / 3 + 1, i %% 200 + 1, i %% 5 + 1, (i %% 400) + 0.99, 0,
                   timestamptz '2026-10-01' + i * interval '2 seconds', timestamptz '2026-10-01' + i * interval '2 seconds'
            from generate_series(1, %(rows)s) as i
            """,
            {"rows": rows},
        )
        conn.execute("analyze sales")
    with psycopg.connect(wh.conninfo(), autocommit=True) as conn:
        conn.execute(
            "create table sales_copy (sale_id bigint, order_id bigint, product_id bigint, "
            "quantity integer, unit_price numeric(10,2), discount numeric(10,2), sold_at timestamptz, updated_at timestamptz)"
        )
    shop_psql, wh_psql = (
        [str(local_stack.psql_path()), "-q", "-h", t.host, "-p", str(t.port), "-U", t.user, "-d", t.dbname]
        for t in (shop, wh)
    )
    shop_json = json.dumps({k: getattr(shop, k) for k in ("host", "port", "user", "password", "dbname")})
    wh_json = json.dumps({k: getattr(wh, k) for k in ("host", "port", "user", "password", "dbname")})
    staged_file = folder / "sales.csv"
    times: dict[str, list[float]] = {k: [] for k in ("out", "in", "pipe", "extract", "load")}

    def timed(key: str, *commands: list[str]) -> None:
        start = time.perf_counter()
        for command in commands:
            subprocess.run(command, env=env, check=True)
        times[key].append(time.perf_counter() - start)

    truncate = [*wh_psql, "-c", "truncate sales_copy"]
    for i in range(args.runs):
        timed("out", [*shop_psql, "-c", f"\\copy (select * from sales) to '{staged_file}' (format csv)"])
        subprocess.run(truncate, env=env, check=True)
        timed("in", [*wh_psql, "-c", f"\\copy sales_copy from '{staged_file}' (format csv)"])
        subprocess.run(truncate, env=env, check=True)
        start = time.perf_counter()
        out = subprocess.Popen(
            [*shop_psql, "-c", "\\copy (select * from sales) to stdout (format csv)"],
            env=env,
            stdout=subprocess.PIPE,
        )
        subprocess.run(
            [*wh_psql, "-c", "\\copy sales_copy from stdin (format csv)"],
            env=env,
            stdin=out.stdout,
            check=True,
        )
        out.wait()
        times["pipe"].append(time.perf_counter() - start)
        ours = run_python(EXTRACT_LOAD, [shop_json, wh_json, (folder / "lake").as_uri(), DS], env)
        times["extract"].append(ours["extract_seconds"])
        times["load"].append(ours["load_seconds"])
        print(
            f"  run {i + 1}: psql \\copy to file {times['out'][-1]:.2f}s + from file {times['in'][-1]:.2f}s | "
            f"psql pipe {times['pipe'][-1]:.2f}s | ours: extract {times['extract'][-1]:.2f}s + load {times['load'][-1]:.2f}s"
        )
    m = {k: statistics.median(v) for k, v in times.items()}
    staged, ours_total = m["out"] + m["in"], m["extract"] + m["load"]
    print(
        f"  medians: extract {m['extract']:.2f}s vs psql \\copy to file {m['out']:.2f}s = {m['extract'] / m['out']:.2f} | "
        f"load {m['load']:.2f}s vs psql \\copy from file {m['in']:.2f}s = {m['load'] / m['in']:.2f}"
    )
    print(
        f"  ours/staged limit = {ours_total / staged:.2f}   (extract to the lake, then load: {ours_total:.2f}s "
        f"= {rows / ours_total:,.0f} rows/s, vs psql \\copy to a file, then from it: {staged:.2f}s)"
    )
    print(
        f"  ours/pipe = {ours_total / m['pipe']:.2f}   (vs a direct psql pipe {m['pipe']:.2f}s, which runs both "
        "COPYs at once and lands nothing)"
    )


if __name__ == "__main__":
    main()
