"""Loader benchmark: this project's ingest against the physical limit and the naive way.

On one generated interactions CSV (value dirt, no structurally broken line, so the baseline
can read it), interleaved in one run:

  (a) psql \\copy into an existing table (pays WAL): the file as CSV into a truncated table of
      5 text columns, created beforehand
  (f) the fair limit: new table + FREEZE, same format: one psql session runs ``begin``, creates
      the table the ingest writes into (the 5 text columns and ``_ds``, defaulted and checked),
      ``\\copy``s into it ``(format text, delimiter ',', null '', freeze)`` and commits, so
      that with ``wal_level=minimal`` the rows skip the WAL as the ingest's do; psql reads the
      bytes the ingest sends the server (the file converted to COPY text format once, before
      the runs, by the ingest's own ``csv_blocks.copy_text``)
  (b) ours:       ``ingest_interactions``: validation, lake csv.gz + manifest, COPY into the day
                  partition with lineage, quarantine, audit, partition swap
  (c) the naive:  pandas ``read_csv`` + ``DataFrame.to_sql`` (SQLAlchemy, psycopg 3)

It prints a table of medians with the ratios b/a, b/f and c/b, and the peak memory of (b) at two
file sizes (it streams: the peak must not grow with the file). Then the shop path: a 1M-row
``sales`` table extracted to the lake, then loaded into raw (as the DAG runs it: two steps),
against the staged limit, ``psql \\copy (select ...) to`` a file, then from it, in two forms:
into an existing table (pays WAL), and fairly, into a table shaped like the load's day partition
created in the same psql transaction with ``FREEZE`` (as the load writes its partition; both read
the staged CSV, which is the lake part's text without its header line); and against a direct
``psql | psql`` pipe into the existing table (both COPYs at once, landing nothing).

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
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loaders import interactions, local_stack
from loaders.catalog import SHOP_TABLES
from loaders.config import PostgresTarget, Settings
from loaders.csv_blocks import BlockValidator, copy_text
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
from loaders.shop import extract_table
from loaders.catalog import SHOP_TABLES
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


def run(folder: Path, wh: PostgresTarget, shop: PostgresTarget, args: argparse.Namespace) -> None:
    csv_path = folder / "interactions.csv"
    made = write_interactions_csv(csv_path, DS, rows=args.rows, broken_lines=False)
    print(f"\n== interactions: {args.rows:,} rows, {made.bytes / 1e6:.0f} MB CSV ({os.cpu_count()} cores)")
    text_path = folder / "interactions.copy"
    header, text_rows = to_copy_text(csv_path, text_path)
    print(
        f"  (f) reads {text_path.name}: the {text_rows:,} lines in COPY text format, "
        f"{text_path.stat().st_size / 1e6:.0f} MB (converted once, before the runs)"
    )
    with psycopg.connect(wh.conninfo(), autocommit=True) as conn:
        conn.execute(
            'create table bench_copy (interaction_id text, user_id text, product_id text, action text, "timestamp" text)'
        )
    env = {**os.environ, "PGPASSWORD": wh.password}
    psql = psql_command(wh)
    fair_script = folder / "fair_interactions.sql"
    fair_script.write_text(
        fair_copy_script(
            "bench_fair",
            [(name, "text") for name in header],
            text_path,
            "format text, delimiter ',', null '', freeze",
        )
    )
    drop_fair = [*psql, "-c", "set client_min_messages = warning", "-c", "drop table if exists bench_fair"]
    target_json = json.dumps({k: getattr(wh, k) for k in ("host", "port", "user", "password", "dbname")})
    lake_url = (folder / "lake").as_uri()

    times: dict[str, list[float]] = {"a": [], "f": [], "b": [], "c": []}
    peaks = []
    for i in range(args.runs):
        subprocess.run([*psql, "-c", "truncate bench_copy"], env=env, check=True)
        settle(wh)
        start = time.perf_counter()
        subprocess.run(
            [*psql, "-c", f"\\copy bench_copy from '{csv_path}' (format csv, header)"], env=env, check=True
        )
        times["a"].append(time.perf_counter() - start)

        subprocess.run(drop_fair, env=env, check=True)
        settle(wh)
        start = time.perf_counter()
        subprocess.run([*psql, "-v", "ON_ERROR_STOP=1", "-f", str(fair_script)], env=env, check=True)
        times["f"].append(time.perf_counter() - start)

        settle(wh)
        report = run_python(INGEST, [str(csv_path), DS, target_json, lake_url], env)
        times["b"].append(report["seconds"])
        peaks.append(report["peak_mb"])
        if i == 0:
            check_rows(wh, {"bench_copy": report["rows"], "bench_fair": report["rows"]})

        if i < args.naive_runs:
            times["c"].append(naive_load(csv_path, wh))
        print(
            f"  run {i + 1}: (a) psql \\copy {times['a'][-1]:.2f}s  (f) fair limit {times['f'][-1]:.2f}s  "
            f"(b) ingest {times['b'][-1]:.2f}s"
            + (f"  (c) pandas to_sql {times['c'][-1]:.1f}s" if i < args.naive_runs else "")
        )

    a, f, b, c = (statistics.median(times[k]) for k in "afbc")
    print_table(
        f"medians of {args.runs} runs ((c): {len(times['c'])}), {args.rows:,} rows",
        [
            ("(a) psql \\copy into an existing table (pays WAL)", a, args.rows, f"b/a = {b / a:.2f}"),
            ("(f) fair limit: new table + FREEZE, same format", f, args.rows, f"b/f = {b / f:.2f}"),
            ("(b) ours: ingest_interactions", b, args.rows, ""),
            ("(c) pandas read_csv + to_sql", c, args.rows, f"c/b = {c / b:.0f}"),
        ],
    )
    print(f"  b/f = {b / f:.2f}   (ingest vs the fair COPY limit; target <= 1.15)")
    print(f"  b/a = {b / a:.2f}   (ingest vs psql \\copy into an existing table, which also writes WAL)")
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
    text_path.unlink()
    sales(folder, wh, shop, args, env)


def run_python(script: str, arguments: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter; return the JSON report on its last line."""
    done = subprocess.run(
        [sys.executable, "-c", script, *arguments], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"a timed run failed (exit code {done.returncode}):\n{done.stderr.strip()[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def psql_command(target: PostgresTarget) -> list[str]:
    return [
        str(local_stack.psql_path()), "-X", "-q",
        "-h", target.host, "-p", str(target.port), "-U", target.user, "-d", target.dbname,
    ]  # fmt: skip


def to_copy_text(csv_path: Path, out_path: Path) -> tuple[list[str], int]:
    """Write the data lines of ``csv_path`` as the ingest sends them to the server (validated,
    then in COPY text format, ``csv_blocks.copy_text``); return the header and the line count."""
    validator = BlockValidator(len(interactions.COLUMNS))
    rows, line_number, carry = 0, 2, b""
    with csv_path.open("rb") as source, out_path.open("wb") as out:
        header = [
            name.strip().lower() for name in source.readline().decode("utf-8-sig").rstrip("\r\n").split(",")
        ]

        def convert(block: bytes) -> None:
            nonlocal rows, line_number
            checked = validator.validate(block.replace(b"\r\n", b"\n"), line_number)
            if checked.rejects:
                first = checked.rejects[0]
                raise SystemExit(
                    f"{csv_path} line {first.line_number}: {first.reason} (the bench needs a clean file)"
                )
            out.write(copy_text(checked.good))
            rows += checked.good_lines
            line_number += checked.lines

        while data := source.read(1 << 20):
            data = carry + data
            cut = data.rfind(b"\n") + 1
            if cut:
                convert(data[:cut])
            carry = data[cut:]
        if carry:
            convert(carry + b"\n")
    return header, rows


def fair_copy_script(table: str, columns: list[tuple[str, str]], path: Path, options: str) -> str:
    """A psql script that creates ``table`` shaped like a day partition at load time (the data
    columns and ``_ds``, defaulted and checked) and fills it with ``\\copy ... (options)`` from
    ``path``, in one transaction: the table is new, so FREEZE is allowed and, with
    ``wal_level=minimal``, the COPY writes no WAL."""
    names = ", ".join(f'"{name}"' for name, _ in columns)
    definitions = ", ".join(f'"{name}" {kind}' for name, kind in columns)
    return (
        "begin;\n"
        f"create table {table} ({definitions}, _ds date not null default '{DS}', "
        f"constraint {table}_ds check (_ds = '{DS}'));\n"
        f"\\copy {table} ({names}) from '{path}' ({options})\n"
        "commit;\n"
    )


def check_rows(target: PostgresTarget, expected: dict[str, int]) -> None:
    """The limits loaded the rows ours did (read after the first run, outside the timings)."""
    with psycopg.connect(target.conninfo(), autocommit=True) as conn:
        for table, rows in expected.items():
            (found,) = conn.execute(f"select count(*) from {table}").fetchone() or (0,)
            if found != rows:
                raise SystemExit(f"{table} holds {found:,} rows, ours loaded {rows:,}: the comparison is off")


def print_table(title: str, rows: list[tuple[str, float, int, str]]) -> None:
    width = max(len(label) for label, *_ in rows)
    print(f"\n  {title}")
    print(f"  {'':{width}}  {'median':>8}  {'rows/s':>10}  ratio")
    for label, seconds, count, ratio in rows:
        print(f"  {label:{width}}  {seconds:7.2f}s  {count / seconds:>10,.0f}  {ratio}".rstrip())
    print()


def settle(target: PostgresTarget, seconds: float = 20.0) -> None:
    """Start each timed step on a quiet server: the dirty pages of the steps before written out
    (each leaves ~100 MB that the kernel would flush during the next one) and no autovacuum
    worker running (each run leaves a new 1M-row table that autovacuum analyzes)."""
    os.sync()
    deadline = time.monotonic() + seconds
    with psycopg.connect(target.conninfo(), autocommit=True) as conn:
        while time.monotonic() < deadline:
            (busy,) = conn.execute(
                "select count(*) from pg_stat_activity where backend_type = 'autovacuum worker'"
            ).fetchone() or (0,)
            if not busy:
                return
            time.sleep(0.05)


def naive_load(csv_path: Path, wh: PostgresTarget) -> float:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(f"postgresql+psycopg://{wh.user}:{wh.password}@{wh.host}:{wh.port}/{wh.dbname}")
    start = time.perf_counter()
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_values=[""])
    frame.to_sql("bench_pandas", engine, if_exists="replace", index=False)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def sales(
    folder: Path, wh: PostgresTarget, shop: PostgresTarget, args: argparse.Namespace, env: dict[str, str]
) -> None:
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
    shop_psql, wh_psql = psql_command(shop), psql_command(wh)
    shop_json = json.dumps({k: getattr(shop, k) for k in ("host", "port", "user", "password", "dbname")})
    wh_json = json.dumps({k: getattr(wh, k) for k in ("host", "port", "user", "password", "dbname")})
    staged_file = folder / "sales.csv"
    fair_script = folder / "fair_sales.sql"
    fair_script.write_text(
        fair_copy_script("sales_fair", list(SHOP_TABLES["sales"].columns), staged_file, "format csv, freeze")
    )
    times: dict[str, list[float]] = {k: [] for k in ("out", "in", "in_fair", "pipe", "extract", "load")}

    def timed(key: str, *commands: list[str]) -> None:
        settle(wh)
        start = time.perf_counter()
        for command in commands:
            subprocess.run(command, env=env, check=True)
        times[key].append(time.perf_counter() - start)

    truncate = [*wh_psql, "-c", "truncate sales_copy"]
    drop_fair = [*wh_psql, "-c", "set client_min_messages = warning", "-c", "drop table if exists sales_fair"]
    for i in range(args.runs):
        timed("out", [*shop_psql, "-c", f"\\copy (select * from sales) to '{staged_file}' (format csv)"])
        subprocess.run(truncate, env=env, check=True)
        timed("in", [*wh_psql, "-c", f"\\copy sales_copy from '{staged_file}' (format csv)"])
        subprocess.run(drop_fair, env=env, check=True)
        timed("in_fair", [*wh_psql, "-v", "ON_ERROR_STOP=1", "-f", str(fair_script)])
        subprocess.run(truncate, env=env, check=True)
        settle(wh)
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
        settle(wh)
        ours = run_python(EXTRACT_LOAD, [shop_json, wh_json, (folder / "lake").as_uri(), DS], env)
        times["extract"].append(ours["extract_seconds"])
        times["load"].append(ours["load_seconds"])
        if i == 0:
            check_rows(wh, {"sales_copy": ours["rows"], "sales_fair": ours["rows"]})
        print(
            f"  run {i + 1}: psql \\copy to file {times['out'][-1]:.2f}s + from file {times['in'][-1]:.2f}s "
            f"(fair: {times['in_fair'][-1]:.2f}s) | psql pipe {times['pipe'][-1]:.2f}s | "
            f"ours: extract {times['extract'][-1]:.2f}s + load {times['load'][-1]:.2f}s"
        )
    m = {k: statistics.median(v) for k, v in times.items()}
    staged, fair_staged = m["out"] + m["in"], m["out"] + m["in_fair"]
    ours_total = m["extract"] + m["load"]
    print_table(
        f"medians of {args.runs} runs, {rows:,} rows",
        [
            ("psql \\copy to a file", m["out"], rows, f"extract / this = {m['extract'] / m['out']:.2f}"),
            ("psql \\copy from it into an existing table (pays WAL)", m["in"], rows,
             f"load / this = {m['load'] / m['in']:.2f}"),
            ("fair: from it into a new table + FREEZE, one transaction", m["in_fair"], rows,
             f"load / this = {m['load'] / m['in_fair']:.2f}"),
            ("staged limit: to a file + into an existing table", staged, rows,
             f"ours / this = {ours_total / staged:.2f}"),
            ("fair staged limit: to a file + into a new table + FREEZE", fair_staged, rows,
             f"ours / this = {ours_total / fair_staged:.2f}"),
            ("psql | psql pipe into an existing table (lands nothing)", m["pipe"], rows,
             f"ours / this = {ours_total / m['pipe']:.2f}"),
            ("ours: extract to the lake", m["extract"], rows, ""),
            ("ours: load into a new day partition + FREEZE", m["load"], rows, ""),
            ("ours: extract + load", ours_total, rows, ""),
        ],
    )  # fmt: skip
    print(
        f"  ours/fair staged limit = {ours_total / fair_staged:.2f}   (target <= 1.15; extract to the lake, then load: "
        f"{ours_total:.2f}s, vs psql \\copy to a file, then into a new table with FREEZE: {fair_staged:.2f}s)"
    )
    print(
        f"  ours/staged limit = {ours_total / staged:.2f}   (vs psql \\copy to a file, then into an existing "
        f"table, which also writes WAL: {staged:.2f}s)"
    )
    print(
        f"  ours/pipe = {ours_total / m['pipe']:.2f}   (vs a direct psql pipe {m['pipe']:.2f}s, which runs both "
        "COPYs at once and lands nothing)"
    )


if __name__ == "__main__":
    main()
