"""Cost of the daily run against the history already loaded: does a day cost a day?

Loads D days one after the other into a warehouse of its own on the local stack, as the DAG
does: each day the shop database moves on (new customers and orders, status changes, edits),
R interactions arrive (plus a few re-deliveries of the day before's lines), the loaders land
and load the day, then ``dbt build --vars '{ds: <day>}'`` runs. Per day it prints:

  - wall time of the dbt build,
  - tuples the server read during it (``seq_tup_read + idx_tup_fetch`` summed over
    ``pg_stat_user_tables``, read from a new connection a second after the build: a figure
    this machine's noise does not move; temporary tables are gone by then and not counted),
  - server CPU seconds (the postmaster's reaped children plus the live ones, /proc),
  - tuples read per new raw row of the day, and the slowest nodes.

and, at the end, the ratio last day / first day of wall time and tuples read. Run it with
``make bench-history DAYS=5 ROWS=100000`` (the default finishes in a few minutes) or
``python bench/history.py --days 30 --rows 1000000`` for the full figure. ``--project-dir``
points it at another checkout's dbt project, to compare two versions on the same data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from loaders import local_stack, pii_key  # noqa: E402
from loaders.catalog import SHOP_TABLES  # noqa: E402
from loaders.config import Settings  # noqa: E402
from loaders.interactions import ingest_interactions  # noqa: E402
from loaders.lake import Lake  # noqa: E402
from loaders.load import load_day  # noqa: E402
from loaders.sample_data import ShopScale, advance_shop, generate_shop, write_interactions_csv  # noqa: E402
from loaders.shop import extract_table  # noqa: E402

BIN = Path(sys.executable).parent
REDELIVERED_SHARE = 0.002  # of a day's rows, delivered again the next day
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Day:
    ds: str
    raw_rows: int
    seconds: float
    tuples_read: int
    server_cpu: float
    slowest: list[tuple[str, float]]

    @property
    def tuples_per_raw_row(self) -> float:
        return self.tuples_read / self.raw_rows if self.raw_rows else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=5, help="days to load and build, one after the other")
    parser.add_argument("--rows", type=int, default=100_000, help="new interactions per day")
    parser.add_argument("--start", default="2026-11-01", help="the first day (YYYY-MM-DD)")
    parser.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR / "dbt_project", help="the dbt project"
    )
    parser.add_argument("--threads", type=int, default=4, help="dbt threads")
    parser.add_argument("--tables", action="store_true", help="also print the tables each build read most")
    parser.add_argument(
        "--keep", action="store_true", help="keep the two databases afterwards, to inspect them"
    )
    args = parser.parse_args()
    if args.days < 1 or args.rows < 1:
        sys.exit("error: --days and --rows must be at least 1")

    base = Settings.from_env()
    local_stack.up(base)
    with (
        local_stack.scratch_databases(
            base, "bench_history_wh", "bench_history_shop", keep=args.keep
        ) as names,
        tempfile.TemporaryDirectory(prefix="history-bench-") as folder,
    ):
        if args.keep:
            print(f"  keeping the databases {names['bench_history_wh']} and {names['bench_history_shop']}")
        settings = base.with_overrides(
            warehouse=replace(base.warehouse, dbname=names["bench_history_wh"]),
            shop=replace(base.shop, dbname=names["bench_history_shop"]),
            lake_url=(Path(folder) / "lake").as_uri(),
            interactions_drop_dir=Path(folder) / "drop",
        )
        pii_key.install_local_key(settings)  # as `make up` does for the local warehouse
        days = run(settings, base, Path(folder), args)
    report(days, args)


def run(settings: Settings, base: Settings, folder: Path, args: argparse.Namespace) -> list[Day]:
    first = dt.date.fromisoformat(args.start)
    print(
        f"\n== daily cost against history: {args.days} days x {args.rows:,} interactions "
        f"({os.cpu_count()} cores, dbt project {args.project_dir})"
    )
    print(
        f"{'day':<11} {'raw rows':>10} {'dbt s':>7} {'tuples read':>12} {'per raw row':>11} {'server cpu s':>12}  slowest nodes"
    )
    generate_shop(settings.shop, first.isoformat(), ShopScale())
    lake = Lake.from_url(settings.lake_url)
    env = dbt_env(settings, args)
    server = local_stack.status(base).pid
    previous: list[str] = []
    days = []
    for number in range(args.days):
        ds = (first + dt.timedelta(days=number)).isoformat()
        if number:
            advance_shop(settings.shop, ds)
        path = write_interactions_csv(
            settings.interactions_drop_file(ds), ds, rows=args.rows, redelivered=previous
        )
        previous = sample_lines(path.path, REDELIVERED_SHARE)
        landed = ingest_interactions(path.path, ds, lake=lake, warehouse_target=settings.warehouse)
        raw_rows = landed.rows_loaded
        for table in SHOP_TABLES.values():
            extract_table(settings.shop, lake, table, ds, full=number == 0)
            raw_rows += load_day(lake, settings.warehouse, "shop", table.name, ds).rows_loaded

        before, cpu_before = tuples_read_by_table(settings), server_cpu(server)
        start = time.perf_counter()
        result = subprocess.run(
            [
                str(BIN / "dbt"), "--no-use-colors", "build", "--vars", json.dumps({"ds": ds}),
                "--project-dir", str(args.project_dir), "--profiles-dir", str(args.project_dir),
                "--target-path", str(folder / "target"), "--log-path", str(folder / "logs"),
                "--threads", str(args.threads),
            ],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"dbt build for {ds} failed:\n{result.stdout[-4000:]}")
        time.sleep(1.0)  # statistics reach the cumulative views asynchronously
        after = tuples_read_by_table(settings)
        day = Day(
            ds=ds,
            raw_rows=raw_rows,
            seconds=seconds,
            tuples_read=sum(count for _, count in most_read(before, after, top=len(after))),
            server_cpu=server_cpu(server) - cpu_before,
            slowest=slowest_nodes(folder / "target" / "run_results.json"),
        )
        days.append(day)
        nodes = ", ".join(f"{name} {secs:.1f}s" for name, secs in day.slowest)
        print(
            f"{ds:<11} {raw_rows:>10,} {seconds:>7.1f} {day.tuples_read:>12,} "
            f"{day.tuples_per_raw_row:>11.2f} {day.server_cpu:>12.1f}  {nodes}",
            flush=True,
        )
        if args.tables:
            print("            most read: " + ", ".join(f"{n} {c:,}" for n, c in most_read(before, after)))
    return days


def report(days: list[Day], args: argparse.Namespace) -> None:
    first, last = days[0], days[-1]
    print(f"\n== last day / first day ({last.ds} / {first.ds})")
    print(
        f"  wall time      {last.seconds:8.1f}s / {first.seconds:8.1f}s = {last.seconds / first.seconds:.2f}"
    )
    print(
        f"  tuples read    {last.tuples_read:>12,} / {first.tuples_read:>12,} = "
        f"{last.tuples_read / first.tuples_read:.2f}"
    )
    print(
        f"  server cpu     {last.server_cpu:8.1f}s / {first.server_cpu:8.1f}s = {last.server_cpu / first.server_cpu:.2f}"
    )
    later = days[1:] or days
    print(
        f"  tuples read per new raw row: median {statistics.median(d.tuples_per_raw_row for d in later):.2f}, "
        f"max {max(d.tuples_per_raw_row for d in later):.2f} (days after the first)"
    )


def dbt_env(settings: Settings, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAREHOUSE_", "DBT_"))}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "WAREHOUSE_HOST": settings.warehouse.host,
            "WAREHOUSE_PORT": str(settings.warehouse.port),
            "WAREHOUSE_USER": settings.warehouse.user,
            "WAREHOUSE_PASSWORD": settings.warehouse.password,
            "WAREHOUSE_DBNAME": settings.warehouse.dbname,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_THREADS": str(args.threads),
        }
    )
    return env


def sample_lines(path: Path, share: float) -> list[str]:
    """Every k-th data line of a delivered file: the lines the next day delivers again."""
    with path.open(encoding="utf-8") as lines:
        next(lines)
        data = [line.rstrip("\n") for line in lines]
    step = max(int(1 / share), 1)
    return data[step // 2 :: step]


def tuples_read_by_table(settings: Settings) -> dict[str, int]:
    with psycopg.connect(settings.warehouse.conninfo()) as conn:
        rows = conn.execute(
            "select schemaname || '.' || relname, seq_tup_read + coalesce(idx_tup_fetch, 0) "
            "from pg_stat_user_tables where schemaname not like 'pg_temp%'"
        ).fetchall()
    return {name: int(count) for name, count in rows}


def most_read(before: dict[str, int], after: dict[str, int], top: int = 8) -> list[tuple[str, int]]:
    """The tables the build read most (tables it replaced count from their creation)."""
    deltas = {name: count - before.get(name, 0) for name, count in after.items()}
    return sorted(((n, d) for n, d in deltas.items() if d > 0), key=lambda item: -item[1])[:top]


def server_cpu(postmaster: int | None) -> float:
    """CPU seconds of the server: its reaped children (backends of closed connections) and the
    processes still running under it."""
    if postmaster is None:
        return 0.0
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == postmaster:
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def slowest_nodes(run_results: Path, top: int = 3) -> list[tuple[str, float]]:
    results = json.loads(run_results.read_text())["results"]
    timed = sorted(
        ((r["unique_id"].split(".")[-1], r["execution_time"]) for r in results), key=lambda r: -r[1]
    )
    return timed[:top]


if __name__ == "__main__":
    main()
