"""``python -m loaders``: the loaders from a shell.

Every command logs what it does (rows, rates) and ends with one clear line and a non-zero exit
on failure, never a traceback wall.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import psycopg

from loaders.config import Settings
from loaders.day_guard import DEFAULT_MAX_REJECT_FRACTION, fraction_argument
from loaders.errors import LoaderError

log = logging.getLogger("loaders")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("psycopg").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()
        return args.run(settings, args) or 0
    except LoaderError as err:
        return _fail(str(err))
    except OSError as err:  # a path that cannot be used: a folder, a file where a folder should be ...
        where = f"{os.fsdecode(err.filename)}: " if err.filename else ""
        return _fail(f"{where}{err.strerror or err}; check the path and its permissions")
    except psycopg.OperationalError as err:
        return _fail(
            f"lost the connection to the database ({_first_line(err)}); nothing was committed by the "
            "step in progress: run the command again once the database is reachable"
        )
    except KeyboardInterrupt:
        print("interrupted: nothing was committed by the step in progress", file=sys.stderr)
        return 130
    except Exception as err:
        if args.verbose:
            raise
        return _fail(
            f"internal error ({type(err).__name__}: {_first_line(err)}); run the command again with -v "
            "for the traceback, and report it"
        )


def _fail(message: str) -> int:
    print(f"error: {one_line(message)}", file=sys.stderr)
    return 1


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def one_line(text: str) -> str:
    """``text`` as one printable line: newlines, terminal escapes and other control characters
    (which may come from a file name or a value in the input) shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class _Parser(argparse.ArgumentParser):
    """Usage errors end in one ``error:`` line that says where to look, and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"error: {one_line(message)}; see `{self.prog} --help`\n")


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """argparse ``type=`` for a whole number from ``low`` to ``high``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from {low:,} to {high:,}")
        return number

    return parse


def path_argument(value: str) -> str:
    """argparse ``type=`` for a path, kept as given (``day.csv/`` names a folder, not day.csv): not
    empty (which would mean the current folder)."""
    if not value:
        raise argparse.ArgumentTypeError("empty: give the path of a file")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m loaders",
        description="Land raw data in the lake and the warehouse's raw schema.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start the embedded local PostgreSQL (reused if running)")
    up.set_defaults(run=_up)
    down = commands.add_parser("down", help="stop the embedded local PostgreSQL")
    down.set_defaults(run=_down)

    generate = commands.add_parser(
        "generate", help="write deterministic sample data: the shop database and a day's CSV drop"
    )
    generate.add_argument("--ds", required=True, help="the day, YYYY-MM-DD")
    generate.add_argument(
        "--rows", type=whole_number(1, 100_000_000), default=20_000, help="interactions in the day's CSV"
    )
    generate.add_argument("--customers", type=whole_number(1, 10_000_000), default=2_000)
    generate.add_argument("--products", type=whole_number(1, 1_000_000), default=200)
    generate.add_argument("--orders-per-day", type=whole_number(1, 1_000_000), default=150)
    generate.add_argument("--days", type=whole_number(1, 3_650), default=30, help="days of order history")
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--out", type=path_argument, help="CSV path (default: the drop folder)")
    generate.add_argument("--no-shop", action="store_true", help="only write the CSV")
    generate.set_defaults(run=_generate)

    interactions = commands.add_parser(
        "interactions",
        help="ingest a day's interactions CSV into the lake and raw.user_interactions",
        description="Validate a day's interactions CSV, land it in the lake and load it into "
        "raw.user_interactions; broken lines go to raw.user_interactions_rejects. "
        "Loading a day again replaces it.",
    )
    interactions.add_argument("--file", type=path_argument, help="the CSV (default: the day's drop file)")
    interactions.add_argument("--ds", required=True, help="the day the file belongs to, YYYY-MM-DD")
    interactions.add_argument(
        "--no-warehouse", action="store_true", help="land in the lake only (skip the warehouse)"
    )
    interactions.add_argument(
        "--max-reject-fraction",
        type=fraction_argument,
        default=DEFAULT_MAX_REJECT_FRACTION,
        help="refuse the file when more than this share of lines is broken, 0 to 1 (default 0.10)",
    )
    interactions.add_argument(
        "--allow-shrink",
        action="store_true",
        help="replace the day even with a file of no valid rows, or under half the rows landed before",
    )
    interactions.set_defaults(run=_interactions)

    extract = commands.add_parser(
        "extract",
        help="extract shop tables for a day into the lake",
        description="Extract the shop database's tables for day --ds into the lake "
        "(raw/shop/<table>/ds=<day>/). Incremental tables take the rows changed that day; "
        "--full takes every row changed up to the end of the day (a first load).",
    )
    extract.add_argument("--table", default="all", help="customers, products, orders, sales or all (default)")
    extract.add_argument("--ds", required=True, help="the day, YYYY-MM-DD")
    extract.add_argument("--full", action="store_true", help="all rows up to the end of the day")
    extract.add_argument("--load", action="store_true", help="also load each extracted day into raw")
    extract.set_defaults(run=_extract)

    load = commands.add_parser(
        "load",
        help="load landed days from the lake into the warehouse's raw schema",
        description="Load day --ds of a landed table from the lake into raw.<table>, replacing "
        "the day, with its rejects and an audit row, in one transaction.",
    )
    load.add_argument("--source", default="shop", choices=("shop", "interactions"))
    load.add_argument("--table", default="all", help="a table of the source, or all (default)")
    load.add_argument("--ds", required=True, help="the day, YYYY-MM-DD")
    load.set_defaults(run=_load)

    status = commands.add_parser(
        "status", help="the load audit: per day and table, rows read, loaded, rejected, and when"
    )
    status.add_argument("--ds", help="only this day")
    status.add_argument("--table", help="only this table")
    status.add_argument(
        "--limit", type=whole_number(1, 1_000_000), default=30, help="latest N loads (default 30)"
    )
    status.set_defaults(run=_status)

    summary = commands.add_parser("summary", help="rows per layer for a day, and where things are")
    summary.add_argument("--ds", required=True)
    summary.set_defaults(run=_summary)

    reconcile = commands.add_parser(
        "reconcile",
        help="bring the lake and raw to the same version of a day (after a crash); print each table's state",
        description="For each table, compare the lake version raw holds with the one the lake has "
        "published; publish the version raw committed if a load stopped between its commit and the "
        "lake's publish. Every load of a day does this first.",
    )
    reconcile.add_argument("--ds", required=True, help="the day, YYYY-MM-DD")
    reconcile.set_defaults(run=_reconcile)

    pii_key = commands.add_parser(
        "pii-key",
        help="install the PII hash key (PII_HASH_KEY) in the warehouse, where the dbt models read it",
        description="Install the key of the PII hashes, read from the environment variable "
        "PII_HASH_KEY, in the warehouse table pii_keys.hash_key (readable by the transformer role "
        "only). Redshift requires a secret of at least 16 characters; a local warehouse takes the "
        "public development key when PII_HASH_KEY is unset.",
    )
    pii_key.add_argument(
        "--replace",
        action="store_true",
        help="replace another installed key (every hash changes: rebuild the models that hash)",
    )
    pii_key.add_argument("--transformer-role", default="shop_transformer", help="the role that reads the key")
    pii_key.set_defaults(run=_pii_key)
    return parser


def _up(settings: Settings, args: argparse.Namespace) -> None:
    from loaders import local_stack, warehouse

    state = local_stack.up(settings)
    with warehouse.connect(settings.warehouse) as conn:
        warehouse.ensure_raw_schema(conn, settings.raw_schema)
    print(
        f"local PostgreSQL running (pid {state.pid}) on {settings.local_pg_host}:{state.port}: "
        f"databases {settings.shop.dbname}, {settings.warehouse.dbname}, {settings.airflow_db.dbname}"
    )


def _down(settings: Settings, args: argparse.Namespace) -> None:
    from loaders import local_stack

    stopped = local_stack.down(settings)
    print("local PostgreSQL stopped" if stopped else "local PostgreSQL was not running")


def _generate(settings: Settings, args: argparse.Namespace) -> None:
    from loaders import sample_data
    from loaders.days import validate_ds
    from loaders.warehouse import connect

    ds = validate_ds(args.ds)
    scale = sample_data.ShopScale(args.customers, args.products, args.orders_per_day, args.days)
    if not args.no_shop:
        connect(settings.shop, "shop").close()  # one clear error when unreachable
        sample_data.generate_shop(settings.shop, ds, scale, seed=args.seed)
    out = Path(args.out) if args.out else settings.interactions_drop_file(ds)
    sample_data.write_interactions_csv(
        out, ds, rows=args.rows, customers=scale.customers, products=scale.products, seed=args.seed
    )
    print(out)


def _interactions(settings: Settings, args: argparse.Namespace) -> None:
    from loaders.days import validate_ds
    from loaders.destination import load_landed_day, one_pass_target
    from loaders.interactions import ingest_interactions
    from loaders.lake import Lake

    ds = validate_ds(args.ds)
    path = args.file or settings.interactions_drop_file(ds)
    lake = Lake.from_url(settings.lake_url)
    one_pass = None if args.no_warehouse else one_pass_target(settings)
    result = ingest_interactions(
        path,
        ds,
        lake=lake,
        warehouse_target=one_pass,
        raw_schema=settings.raw_schema,
        max_reject_fraction=args.max_reject_fraction,
        allow_shrink=args.allow_shrink,
    )
    if one_pass is None and not args.no_warehouse:  # Redshift: from the lake, COPY FROM S3
        load_landed_day(settings, lake, "interactions", "user_interactions", ds)
    reasons = ", ".join(f"{n} {reason}" for reason, n in result.rejects_by_reason.most_common())
    print(
        f"{result.ds}: {result.rows_read:,} rows read, {result.rows_loaded:,} loaded, "
        f"{result.rows_rejected:,} rejected{f' ({reasons})' if reasons else ''}; "
        f"{result.seconds:.2f}s; lake {result.lake_uri}"
    )


def _shop_tables(name: str) -> list[str]:
    from loaders.catalog import SHOP_TABLES, table_named

    return list(SHOP_TABLES) if name == "all" else [table_named(name).name]


def _extract(settings: Settings, args: argparse.Namespace) -> None:
    from loaders.catalog import table_named
    from loaders.days import validate_ds
    from loaders.destination import load_landed_day
    from loaders.lake import Lake
    from loaders.shop import extract_table

    ds = validate_ds(args.ds)
    lake = Lake.from_url(settings.lake_url)
    for name in _shop_tables(args.table):
        result = extract_table(settings.shop, lake, table_named(name), ds, full=args.full)
        print(f"shop.{name} {ds} ({result.mode}): {result.rows:,} rows -> {result.lake_uri}")
        if args.load:
            loaded = load_landed_day(settings, lake, "shop", name, ds)
            print(f"raw.{name} {ds}: {loaded.rows_loaded:,} rows loaded")


def _load(settings: Settings, args: argparse.Namespace) -> None:
    from loaders import interactions
    from loaders.days import validate_ds
    from loaders.destination import load_landed_day
    from loaders.lake import Lake

    ds = validate_ds(args.ds)
    lake = Lake.from_url(settings.lake_url)
    if args.source == "shop":
        tables = _shop_tables(args.table)
    elif args.table in ("all", interactions.TABLE):
        tables = [interactions.TABLE]
    else:
        raise LoaderError(f"the interactions source has one table, {interactions.TABLE}")
    for table in tables:
        result = load_landed_day(settings, lake, args.source, table, ds)
        print(
            f"raw.{table} {ds}: {result.rows_read:,} read, {result.rows_loaded:,} loaded, "
            f"{result.rows_rejected:,} rejected; {result.seconds:.2f}s"
        )


def _status(settings: Settings, args: argparse.Namespace) -> None:
    from loaders.catalog import SHOP_TABLES
    from loaders.days import validate_ds
    from loaders.interactions import TABLE
    from loaders.summary import print_status

    if args.ds is not None:
        validate_ds(args.ds)
    tables = (*SHOP_TABLES, TABLE)
    if args.table is not None and args.table not in tables:
        raise LoaderError(f"--table {args.table!r}: choose from {', '.join(tables)}")
    print_status(settings, ds=args.ds, table=args.table, limit=args.limit)


def _summary(settings: Settings, args: argparse.Namespace) -> None:
    from loaders.days import validate_ds
    from loaders.summary import print_summary

    print_summary(settings, validate_ds(args.ds))


def _reconcile(settings: Settings, args: argparse.Namespace) -> None:
    from loaders import interactions, warehouse
    from loaders.catalog import SHOP_TABLES
    from loaders.days import validate_ds
    from loaders.lake import Lake
    from loaders.reconcile import reconcile_day

    ds = validate_ds(args.ds)
    lake = Lake.from_url(settings.lake_url)
    tables = [(interactions.SOURCE, interactions.TABLE), *(("shop", name) for name in SHOP_TABLES)]
    with warehouse.connect(settings.warehouse) as conn:
        for source, table in tables:
            warehouse.lock_day(conn, table, ds)
            state = reconcile_day(lake, conn, settings.raw_schema, source, table, ds)
            conn.commit()
            print(
                f"{source}/{table} {ds}: lake {state.lake_version or '-'}, raw {state.raw_version or '-'}: {state.action}"
            )


def _pii_key(settings: Settings, args: argparse.Namespace) -> None:
    from loaders.pii_key import install_from_settings

    result = install_from_settings(settings, replace=args.replace, transformer_role=args.transformer_role)
    print(result.describe())


def run() -> None:
    started = time.monotonic()
    code = main()
    log.debug("done in %.1fs", time.monotonic() - started)
    sys.exit(code)
