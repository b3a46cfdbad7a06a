"""Hostile input, through the real command line: every kind gets one clear answer and loses nothing.

One stack is shared by the module: a warehouse whose ``raw`` schema holds a loaded day of
interactions (and a day of every shop table), with the lake behind it. Each kind of hostile
input (a file, a command-line argument, an environment value, a lake manifest, a database that
goes away) is given to ``python -m loaders`` in a subprocess, and must end one of three ways:

- ``refused``: a non-zero exit with exactly one ``error: ...`` line on stderr;
- ``quarantined``: exit 0, the broken line kept in ``raw.user_interactions_rejects`` with its
  reason (on a day of its own);
- ``accepted``: exit 0, the file loaded whole (on a day of its own).

Whatever the ending: no traceback anywhere in the output (nor the command line's last-resort
``internal error``), and nothing else changed: the raw tables' rows, the load audit, every byte of
the lake and of the drop folder, the shop database.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from loaders import local_stack
from loaders.catalog import SHOP_TABLES
from loaders.config import Settings
from loaders.interactions import ingest_interactions
from loaders.lake import Lake
from loaders.load import load_day
from loaders.sample_data import ShopScale, generate_shop, write_interactions_csv
from loaders.shop import extract_table
from tests.conftest import PROJECT_DIR, env_for, fresh_warehouse

pytestmark = pytest.mark.hostile

DS = "2026-11-20"  # the day loaded in lake and raw that refused input must leave as it is
OTHER = "2026-11-19"  # a day landed in the lake only
SPARE = "2026-11-18"  # a day loaded in lake and raw, for a manifest that points elsewhere
DAY = f"raw/interactions/user_interactions/ds={DS}"
HEADER = b"interaction_id,user_id,product_id,action,timestamp\n"
RAW_TABLES = ("user_interactions", "user_interactions_rejects", "customers", "products", "orders", "sales")
TIMEOUT = 30


def good_lines(n: int, first: int = 1) -> bytes:
    return b"".join(b"%d,10,100,view,2026-11-20T10:00:00Z\n" % i for i in range(first, first + n))


def with_rows(*lines: bytes, good: int = 5) -> bytes:
    """A file with ``good`` valid lines, then ``lines`` (each given without its newline)."""
    return HEADER + good_lines(good) + b"".join(line + b"\n" for line in lines)


# --- the shared stack --------------------------------------------------------------------------


@dataclass
class Stack:
    settings: Settings
    folder: Path
    wh: psycopg.Connection
    shop: psycopg.Connection
    good: Path  # a plausible re-delivery of the day (arguments are the hostile part)
    reader: tuple[str, str]  # a login that may connect but not read raw

    @property
    def lake_root(self) -> Path:
        return Path(self.settings.lake_url.removeprefix("file://"))

    def manifest(self, ds: str = DS) -> Path:
        return self.lake_root / f"raw/interactions/user_interactions/ds={ds}/_manifest.json"


@pytest.fixture(scope="module")
def stack(pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("hostile")
    with fresh_warehouse(pg_settings, folder) as settings:
        lake = Lake.from_url(settings.lake_url)
        generate_shop(settings.shop, DS, ShopScale(customers=40, products=8, orders_per_day=4, days=2))
        for table in SHOP_TABLES.values():
            extract_table(settings.shop, lake, table, DS, full=True)
            load_day(lake, settings.warehouse, "shop", table.name, DS)
        for ds, rows, target in (
            (DS, 2_000, settings.warehouse),
            (OTHER, 300, None),
            (SPARE, 300, settings.warehouse),
        ):
            path = write_interactions_csv(folder / f"day-{ds}.csv", ds, rows=rows).path
            ingest_interactions(path, ds, lake=lake, warehouse_target=target)
        good = write_interactions_csv(folder / "redelivery.csv", DS, rows=1_500, seed=7).path
        (folder / "drop").mkdir(exist_ok=True)
        role = f"hostile_reader_{uuid.uuid4().hex[:8]}"
        admin = local_stack.superuser_conninfo(pg_settings)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("create role {} login password 'reader-password'").format(sql.Identifier(role))
            )
        try:
            with (
                psycopg.connect(settings.warehouse.conninfo(), autocommit=True) as wh,
                psycopg.connect(settings.shop.conninfo(), autocommit=True) as shop,
            ):
                yield Stack(settings, folder, wh, shop, good, (role, "reader-password"))
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role)))


def files_under(root: Path, skip_ds: str | None) -> dict[str, bytes]:
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if skip_ds and f"ds={skip_ds}" in relative.parts:
            continue
        found[str(relative)] = path.read_bytes() if path.is_file() else b"<folder>"
    return found


def snapshot(stack: Stack, skip_ds: str | None = None) -> dict[str, object]:
    """Everything a load could change, but day ``skip_ds`` (where an accepted file lands)."""
    wh = stack.wh
    state: dict[str, object] = {}
    for table in RAW_TABLES:
        state[table] = wh.execute(
            sql.SQL(
                "select _ds::text, count(*), md5(string_agg(md5(t::text), ',' order by md5(t::text))) "
                "from {} t where _ds is distinct from %s::date group by 1 order by 1"
            ).format(sql.Identifier("raw", table)),
            (skip_ds,),
        ).fetchall()
    state["load_audit"] = wh.execute(
        "select * from raw.load_audit where ds is distinct from %s::date order by load_id", (skip_ds,)
    ).fetchall()
    skip = skip_ds.replace("-", "") if skip_ds else "-"
    state["raw relations"] = [
        name
        for (name,) in wh.execute(
            "select relname from pg_class where relnamespace = 'raw'::regnamespace order by 1"
        ).fetchall()
        if skip not in name
    ]
    state["schemas"] = wh.execute("select nspname from pg_namespace order by 1").fetchall()
    state["shop"] = [
        stack.shop.execute(
            sql.SQL("select count(*), max(updated_at) from {}").format(sql.Identifier(t))
        ).fetchone()
        for t in SHOP_TABLES
    ]
    state["lake"] = files_under(stack.lake_root, skip_ds)
    state["drop"] = files_under(stack.folder / "drop", None)
    return state


# --- the cases ---------------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a case's setup and arguments see: the stack, a folder of the test's own, and the
    ``path`` a case writes its input to."""

    stack: Stack
    tmp: Path
    path: str = ""
    env: dict[str, str] = field(default_factory=dict)
    prefix: list[str] = field(default_factory=list)  # runs the command (e.g. with fewer privileges)
    cleanups: list[Callable[[], object]] = field(default_factory=list)

    @property
    def good(self) -> str:
        return str(self.stack.good)


Args = Callable[[Ctx], Sequence[str | bytes]]


@dataclass(frozen=True)
class Case:
    args: Args
    expect: str = "refused"  # refused | quarantined | accepted
    match: str = ""  # in the error line (refused) or a reject reason (quarantined)
    day: str = DS
    setup: Callable[[Ctx], object] | None = None
    env: dict[str, str] = field(default_factory=dict)
    forbid: str = ""  # must not appear in the output


_spare_days = (dt.date(2026, 10, 1) + dt.timedelta(days=n) for n in range(1000))


def next_day() -> str:
    return next(_spare_days).isoformat()


def case(kind: str, args: Args, match: str = "", *, xfail: bool = False, **kwargs: object):
    marks = [pytest.mark.xfail(strict=True, reason="typed manifest checks")] if xfail else []
    return pytest.param(Case(args, match=match, **kwargs), id=kind, marks=marks)  # type: ignore[arg-type]


def status(*extra: str) -> Args:
    return lambda ctx: ["status", *extra]


def cli(*argv: str) -> Args:
    """Arguments, with ``{good}`` (a plausible file for the day), ``{path}`` and ``{tmp}`` filled in."""
    return lambda ctx: [a.format(good=ctx.good, path=ctx.path, tmp=ctx.tmp) for a in argv]


def ingest_file(ds: str = DS) -> Args:
    return lambda ctx: ["interactions", "--file", ctx.path, "--ds", ds]


def content(kind: str, data: bytes, match: str = "", expect: str = "refused", **kwargs: object):
    """A file of the given bytes as the day's CSV (a day of its own unless it must be refused)."""
    day = DS if expect == "refused" else next_day()

    def setup(ctx: Ctx) -> None:
        ctx.path = str(ctx.tmp / "input.csv")
        Path(ctx.path).write_bytes(data)

    return case(kind, ingest_file(day), match, expect=expect, day=day, setup=setup, **kwargs)


def special_path(
    kind: str,
    make: Callable[[Ctx], str | bytes],
    match: str = "",
    *,
    args: Args | None = None,
    **kwargs: object,
):
    """``--file`` naming something other than a plain readable file."""

    def setup(ctx: Ctx) -> None:
        ctx.path = make(ctx)  # type: ignore[assignment]

    return case(kind, args or ingest_file(), match, setup=setup, **kwargs)


def environment(kind: str, env: dict[str, str], match: str, args: Args | None = None, **kwargs: object):
    """An environment value (the command is ``status`` unless ``args`` says otherwise)."""
    return case(kind, args or status(), match, env=env, **kwargs)


def manifest(
    kind: str, change: Callable[[dict, Ctx], object], match: str = "", ds: str = DS, **kwargs: object
):
    """Day ``ds``'s ``_manifest.json`` replaced by ``change(manifest)`` (restored afterwards), then
    ``load`` of the day."""

    def setup(ctx: Ctx) -> None:
        path = ctx.stack.manifest(ds)
        original = path.read_bytes()
        ctx.cleanups.append(lambda: path.write_bytes(original))
        document = change(json.loads(original), ctx)
        path.write_bytes(document if isinstance(document, bytes) else json.dumps(document).encode())

    return case(kind, cli("load", "--source", "interactions", "--ds", ds), match, setup=setup, **kwargs)


def valid_except(**changes: object) -> Callable[[dict, Ctx], dict]:
    return lambda document, ctx: {**document, **changes}


def part_except(**changes: object) -> Callable[[dict, Ctx], dict]:
    return lambda document, ctx: {**document, "parts": [{**document["parts"][0], **changes}]}


def other_days_parts(document: dict, ctx: Ctx) -> dict:
    """Day OTHER's manifest as this day's, its keys ``../ds=OTHER/...``: reaching outside the day."""
    other = json.loads(ctx.stack.manifest(OTHER).read_bytes())
    part, rejects = other["parts"][0], other["rejects"]
    return {
        **other,
        "ds": document["ds"],
        "parts": [{**part, "key": f"../ds={OTHER}/{part['key']}"}],
        "rejects": {**rejects, "key": f"../ds={OTHER}/{rejects['key']}"},
    }


def manifest_is_a_folder(ctx: Ctx) -> None:
    path = ctx.stack.manifest()
    original = path.read_bytes()
    path.unlink()
    path.mkdir()

    def restore() -> None:
        path.rmdir()
        path.write_bytes(original)

    ctx.cleanups.append(restore)


# servers that answer badly ---------------------------------------------------------------------


class _Server:
    """A TCP listener on a free port that does ``handle(client)`` with every connection."""

    def __init__(self, handle: Callable[[socket.socket], object]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._handle = handle
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with suppress(OSError):
            while True:
                client, _ = self._listener.accept()
                self._open.append(client)
                threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def close(self) -> None:
        for sock in [self._listener, *self._open]:
            with suppress(OSError):
                sock.close()


def _cutting_proxy(pg_port: int, cut_after: int) -> Callable[[socket.socket], None]:
    """Forwards to the real server until the client has sent ``cut_after`` bytes (well into the
    COPY of a big file), then drops both ends: the connection is lost mid-load."""

    def handle(client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", pg_port))
        sent = 0

        def pump_back() -> None:
            with suppress(OSError):
                while data := upstream.recv(65536):
                    client.sendall(data)

        threading.Thread(target=pump_back, daemon=True).start()
        with suppress(OSError):
            while data := client.recv(65536):
                sent += len(data)
                if sent > cut_after:
                    break
                upstream.sendall(data)
        for sock in (client, upstream):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    return handle


def server_env(handle: Callable[[socket.socket], object]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        server = _Server(handle)
        ctx.cleanups.append(server.close)
        ctx.env["WAREHOUSE_PORT"] = str(server.port)

    return setup


def connection_lost_during_copy(ctx: Ctx) -> None:
    big = write_interactions_csv(ctx.tmp / "big.csv", DS, rows=60_000, seed=3).path
    ctx.path = str(big)
    server_env(_cutting_proxy(ctx.stack.settings.warehouse.port, cut_after=512 << 10))(ctx)


def connection_lost_during_load(ctx: Ctx) -> None:
    """The day's part is about 90 KB of CSV; what comes before its COPY, under 16 KiB."""
    server_env(_cutting_proxy(ctx.stack.settings.warehouse.port, cut_after=32 << 10))(ctx)


def login_without_raw_access(ctx: Ctx) -> None:
    ctx.env["WAREHOUSE_USER"], ctx.env["WAREHOUSE_PASSWORD"] = ctx.stack.reader


def unreadable_file(ctx: Ctx) -> None:
    """A file its reader may not open. Root reads any file: as root, the command runs without the
    capabilities that let it (``setpriv``)."""
    path = ctx.tmp / "day.csv"
    shutil.copyfile(ctx.stack.good, path)
    path.chmod(0)
    ctx.path = str(path)
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: a file root cannot read is not at hand")
        caps = "-dac_override,-dac_read_search"
        ctx.prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]


def fifo(ctx: Ctx) -> str:
    path = ctx.tmp / "day.csv"
    os.mkfifo(path)
    return str(path)


def unix_socket(ctx: Ctx) -> str:
    path = ctx.tmp / "day.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    ctx.cleanups.append(server.close)
    return str(path)


def symlink_loop(ctx: Ctx) -> str:
    (ctx.tmp / "a.csv").symlink_to(ctx.tmp / "b.csv")
    (ctx.tmp / "b.csv").symlink_to(ctx.tmp / "a.csv")
    return str(ctx.tmp / "a.csv")


def dangling_symlink(ctx: Ctx) -> str:
    (ctx.tmp / "day.csv").symlink_to(ctx.tmp / "gone.csv")
    return str(ctx.tmp / "day.csv")


def undecodable_name(ctx: Ctx) -> bytes:
    path = os.fsencode(ctx.tmp) + b"/day-\xff\xfe.csv"
    with open(path, "wb") as f:
        f.write(with_rows(good=3))
    return path


def drop_folder_is_a_file(ctx: Ctx) -> None:
    blocker = ctx.tmp / "not-a-folder"
    blocker.write_text("x")
    ctx.env["INTERACTIONS_DROP_DIR"] = str(blocker)


def utf16(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


GOOD_TEXT = (HEADER + good_lines(5)).decode()
RANDOM_BYTES = random.Random(1).randbytes(200_000)
NAME_DAY = next_day()
WIDE = b",".join(b"c%d" % i for i in range(10_000))

# fmt: off
CASES = [
    # --- command-line arguments -----------------------------------------------------------------
    case("unknown-subcommand", cli("frobnicate"), r"invalid choice: 'frobnicate'"),
    case("no-subcommand", cli(), r"COMMAND"),
    case("missing-required-ds", cli("interactions", "--file", "{good}"), r"--ds"),
    case("unknown-option", cli("interactions", "--file", "{good}", "--ds", DS, "--fast"), r"unrecognized.*--fast"),
    case("option-without-value", cli("interactions", "--file", "{good}", "--ds"), r"--ds.*expected one argument"),
    case("status-ds-not-a-day", status("--ds", "yesterday"), r"--ds.*'yesterday'.*YYYY-MM-DD"),
    case("status-ds-feb-30", status("--ds", "2026-02-30"), r"--ds.*'2026-02-30'.*YYYY-MM-DD"),
    case("status-ds-sql", status("--ds", "2026-11-20'; drop table raw.load_audit; --"), r"--ds.*YYYY-MM-DD"),
    case("ds-feb-30", cli("interactions", "--file", "{good}", "--ds", "2026-02-30"), r"'2026-02-30'.*YYYY-MM-DD"),
    case("ds-dot-dot", cli("load", "--source", "interactions", "--ds", "../"), r"'\.\./'.*YYYY-MM-DD"),
    case("ds-empty", cli("interactions", "--file", "{good}", "--ds", ""), r"--ds ''.*YYYY-MM-DD"),
    case("ds-with-a-time", cli("extract", "--ds", "2026-11-20T00:00:00"), r"YYYY-MM-DD"),
    case("ds-basic-format", cli("summary", "--ds", "20261120"), r"'20261120'.*YYYY-MM-DD"),
    case("ds-newline", cli("load", "--ds", f"{DS}\n"), r"YYYY-MM-DD"),
    case("ds-last-day-of-the-calendar", cli("generate", "--ds", "9999-12-31", "--no-shop", "--out", "{tmp}/x.csv"), r"9999-12-31"),
    case("ds-year-zero-padded", cli("interactions", "--file", "{good}", "--ds", "0026-11-20"), r"0026-11-20"),
    case("limit-negative", status("--limit", "-1"), r"--limit.*'-1'.*whole number from 1"),
    case("limit-zero", status("--limit", "0"), r"--limit.*'0'"),
    case("limit-not-a-number", status("--limit", "ten"), r"--limit.*'ten'"),
    case("limit-huge", status("--limit", "1" + "0" * 20), r"--limit.*whole number from 1 to"),
    case("generate-zero-customers", cli("generate", "--ds", DS, "--customers", "0", "--out", "{tmp}/x.csv"), r"--customers.*'0'"),
    case("generate-negative-rows", cli("generate", "--ds", DS, "--rows", "-5", "--no-shop", "--out", "{tmp}/x.csv"), r"--rows.*'-5'"),
    case("generate-huge-rows", cli("generate", "--ds", DS, "--rows", "10" * 7, "--no-shop", "--out", "{tmp}/x.csv"), r"--rows.*whole number from 1 to"),
    case("generate-rows-float", cli("generate", "--ds", DS, "--rows", "1e6", "--no-shop", "--out", "{tmp}/x.csv"), r"--rows.*'1e6'"),
    case("generate-zero-days", cli("generate", "--ds", DS, "--days", "0", "--no-shop", "--out", "{tmp}/x.csv"), r"--days.*'0'"),
    case("generate-seed-not-a-number", cli("generate", "--ds", DS, "--seed", "x", "--no-shop", "--out", "{tmp}/x.csv"), r"--seed.*'x'"),
    case("generate-out-is-a-folder", cli("generate", "--ds", DS, "--rows", "5", "--no-shop", "--out", "{tmp}"), r"Is a directory"),
    case("generate-out-under-a-file", cli("generate", "--ds", DS, "--rows", "5", "--no-shop", "--out", "{good}/x.csv"), r"redelivery.csv: (File exists|Not a directory)"),
    case("reject-fraction-above-one", cli("interactions", "--file", "{good}", "--ds", DS, "--max-reject-fraction", "2"), r"from 0 to 1"),
    case("load-unknown-source", cli("load", "--source", "ftp", "--ds", DS), r"invalid choice: 'ftp'"),
    case("load-unknown-shop-table", cli("load", "--table", "users", "--ds", DS), r"unknown shop table 'users'"),
    case("load-interactions-other-table", cli("load", "--source", "interactions", "--table", "orders", "--ds", DS), r"one table"),
    case("extract-table-path", cli("extract", "--table", "../../etc/passwd", "--ds", DS), r"unknown shop table"),
    case("status-table-sql", status("--table", "x'; drop table raw.load_audit; --"), r"--table.*choose from"),
    case("load-a-day-never-landed", cli("load", "--source", "interactions", "--ds", "2026-11-17"), r"no _manifest.json"),
    # --- --file that is not a plain readable file ---------------------------------------------
    special_path("file-missing", lambda ctx: str(ctx.tmp / "nope.csv"), r"no such file"),
    special_path("file-empty-name", lambda ctx: "", r"--file.*empty"),
    special_path("file-dangling-symlink", dangling_symlink, r"no such file"),
    special_path("file-symlink-loop", symlink_loop, r"symbolic links|loop"),
    special_path("file-name-too-long", lambda ctx: str(ctx.tmp / ("x" * 300 + ".csv")), r"too long"),
    special_path("file-path-too-long", lambda ctx: str(ctx.tmp) + "/a" * 3000, r"too long"),
    special_path("file-is-a-folder", lambda ctx: str(ctx.tmp), r"is a folder"),
    special_path("file-trailing-slash", lambda ctx: ctx.good + "/", r"not a folder|Not a directory"),
    special_path("file-dev-zero", lambda ctx: "/dev/zero", r"not a regular file"),
    special_path("file-dev-null", lambda ctx: "/dev/null", r"not a regular file"),
    special_path("file-fifo-without-writer", fifo, r"not a regular file"),
    special_path("file-unix-socket", unix_socket, r"not a regular file"),
    case("file-unreadable", ingest_file(), r"[Pp]ermission denied", setup=unreadable_file),
    special_path("file-name-with-newline", lambda ctx: str(ctx.tmp / "day\nerror: fake.csv"), r"no such file"),
    special_path("file-name-with-escapes", lambda ctx: str(ctx.tmp / "\x1b[2J\x1b[31mday.csv"), r"no such file", forbid="\x1b"),
    special_path("file-name-not-utf8", undecodable_name, expect="accepted", day=NAME_DAY, args=ingest_file(NAME_DAY)),
    case("drop-folder-is-a-file", cli("interactions", "--ds", DS), r"Not a directory|not a folder", setup=drop_folder_is_a_file),
    # --- file contents -------------------------------------------------------------------------
    content("empty-file", b"", r"is empty"),
    content("only-a-newline", b"\n", r"header"),
    content("only-a-bom", b"\xef\xbb\xbf", r"header"),
    content("header-only", HEADER, r"no valid row"),
    content("bom-header", b"\xef\xbb\xbf" + HEADER + good_lines(3), expect="accepted"),
    content("header-in-another-order", b"action,timestamp,product_id,user_id,interaction_id\nview,2026-11-20T10:00:00Z,100,10,1\n", expect="accepted"),
    content("header-quoted-upper-case", b'"INTERACTION_ID","User_Id", product_id ,action,timestamp\n' + good_lines(3), expect="accepted"),
    content("header-duplicate-column", b"interaction_id,user_id,user_id,action,timestamp\n" + good_lines(3), r"appears twice"),
    content("header-missing-column", b"interaction_id,user_id,action,timestamp\n1,10,view,x\n", r"missing product_id"),
    content("header-extra-column", HEADER.replace(b"\n", b",channel\n") + b"1,10,100,view,x,web\n", r"unexpected channel"),
    content("header-trailing-comma", HEADER.replace(b"\n", b",\n") + good_lines(3), r"header"),
    content("header-10k-columns", WIDE + b"\n" + good_lines(3), r"header"),
    content("header-over-128-kib", b"interaction_id" + b"x" * (130 << 10) + b"\n" + good_lines(3), r"line 1"),
    content("header-unterminated-quote", b'"interaction_id,user_id,product_id,action,timestamp\n' + good_lines(3), r"header"),
    content("header-nul-bytes", HEADER.replace(b"user_id", b"user\x00id") + good_lines(3), r"header"),
    content("cr-only-line-endings", (HEADER + good_lines(3)).replace(b"\n", b"\r"), r"CR"),
    content("utf16-le-with-bom", b"\xff\xfe" + utf16(GOOD_TEXT, "utf-16-le"), r"UTF-16|UTF-8"),
    content("utf16-be-without-bom", utf16(GOOD_TEXT, "utf-16-be"), r"UTF-16|header"),
    content("utf32", utf16(GOOD_TEXT, "utf-32"), r"UTF-8|header"),
    content("gzip-compressed", gzip.compress(HEADER + good_lines(3)), r"gzip|UTF-8"),
    content("json-array", json.dumps([{"interaction_id": 1, "user_id": 10}]).encode() + b"\n", r"header"),
    content("json-lines", b'{"interaction_id": 1, "user_id": 10, "product_id": 100}\n' * 3, r"header"),
    content("tab-separated", HEADER.replace(b",", b"\t") + good_lines(3).replace(b",", b"\t"), r"header"),
    content("semicolon-delimited", HEADER + good_lines(40).replace(b",", b";"), r"40 of 40 lines are broken"),
    content("binary-garbage-after-header", HEADER + RANDOM_BYTES, r"lines are broken"),
    content("a-tenth-of-the-day", HEADER + good_lines(150), r"fewer than 50%"),
    content("latin1-row", with_rows(b"9,10,100,caf\xe9,2026-11-20T10:00:00Z"), r"invalid UTF-8", expect="quarantined"),
    content("windows-1252-quotes-row", with_rows(b"9,10,100,\x93view\x94,2026-11-20T10:00:00Z"), r"invalid UTF-8", expect="quarantined"),
    content("overlong-utf8-row", with_rows(b"9,10,100,\xc0\xafview,2026-11-20T10:00:00Z"), r"invalid UTF-8", expect="quarantined"),
    content("utf8-surrogate-row", with_rows(b"9,10,100,\xed\xa0\x80,2026-11-20T10:00:00Z"), r"invalid UTF-8", expect="quarantined"),
    content("truncated-utf8-at-end", with_rows() + b"9,10,100,view,2026-11-20T10:00:00\xe2\x82", r"invalid UTF-8", expect="quarantined"),
    content("nul-bytes-row", with_rows(b"9,10,100,vi\x00ew,2026-11-20T10:00:00Z"), r"NUL byte", expect="quarantined"),
    content("unterminated-quote-row", with_rows(b'9,10,100,"view,2026-11-20T10:00:00Z'), r"unbalanced", expect="quarantined"),
    content("embedded-newline-in-quotes", with_rows(b'9,10,100,"vi\new",2026-11-20T10:00:00Z'), r"unbalanced", expect="quarantined"),
    content("row-10k-columns", with_rows(WIDE), r"wrong field count: 10000 fields", expect="quarantined"),
    content("row-too-few-fields", with_rows(b"9,10"), r"wrong field count: 2 fields", expect="quarantined"),
    content("lone-cr-inside-a-row", with_rows(b"9,10,100,vi\rew,2026-11-20T10:00:00Z\r"), r"carriage return", expect="quarantined"),
    content("unquoted-json-field", with_rows(b'9,10,100,{"a": 1, "b": 2},2026-11-20T10:00:00Z'), r"quotes|field count", expect="quarantined"),
    content("empty-line", with_rows(b""), r"empty line", expect="quarantined"),
    content("quoted-json-field", with_rows(b'9,10,100,"{""a"": 1, ""b"": [2, 3]}",2026-11-20T10:00:00Z'), expect="accepted"),
    content("field-of-2-mib", with_rows(b"9,10,100," + b"v" * (2 << 20) + b",2026-11-20T10:00:00Z"), r"field 4 is longer than 65,535 bytes", expect="quarantined"),
    content("field-of-200k-characters-quoted", with_rows(b'9,10,100,"' + "é".encode() * 100_000 + b'",2026-11-20T10:00:00Z'), r"field 4 is longer than 65,535 bytes", expect="quarantined"),
    content("field-at-the-65535-byte-limit", with_rows(b"9,10,100," + b"v" * 65_535 + b",2026-11-20T10:00:00Z"), expect="accepted"),
    content("id-of-10k-digits", with_rows(b"9" * 10_000 + b",10,100,view,2026-11-20T10:00:00Z"), expect="accepted"),
    content("copy-escapes-in-fields", with_rows(b"9,10,100,\\N,\\.", b"10,\\,\\\\,\\t,x"), expect="accepted"),
    content("emoji-and-rtl-text", with_rows("9,10,100,\U0001f6d2 \u202eweiv,2026-11-20T10:00:00Z".encode()), expect="accepted"),
    content("mixed-lf-and-crlf", HEADER + good_lines(3).replace(b"\n", b"\r\n", 2), expect="accepted"),
    # --- environment values ----------------------------------------------------------------------
    environment("local-pg-port-not-a-number", {"LOCAL_PG_PORT": "abc"}, r"LOCAL_PG_PORT='abc'"),
    environment("warehouse-port-out-of-range", {"WAREHOUSE_PORT": "99999"}, r"WAREHOUSE_PORT='99999'.*1 to 65535"),
    environment("warehouse-port-zero", {"WAREHOUSE_PORT": "0"}, r"WAREHOUSE_PORT='0'"),
    environment("warehouse-port-negative", {"WAREHOUSE_PORT": "-5432"}, r"WAREHOUSE_PORT='-5432'"),
    environment("warehouse-port-with-junk", {"WAREHOUSE_PORT": "5432x"}, r"WAREHOUSE_PORT='5432x'"),
    environment("warehouse-kind-oracle", {"WAREHOUSE_KIND": "oracle"}, r"WAREHOUSE_KIND='oracle'.*postgres, redshift", cli("load", "--ds", DS)),
    environment("redshift-without-iam-role", {"WAREHOUSE_KIND": "redshift"}, r"REDSHIFT_IAM_ROLE", cli("load", "--ds", DS)),
    environment("warehouse-sslmode-bogus", {"WAREHOUSE_SSLMODE": "sometimes"}, r"WAREHOUSE_SSLMODE='sometimes'"),
    environment("warehouse-wrong-password", {"WAREHOUSE_PASSWORD": "not-the-password"}, r"password authentication failed"),
    environment("warehouse-no-such-database", {"WAREHOUSE_DBNAME": "no_such_db"}, r"no_such_db.*does not exist"),
    environment("lake-url-ftp", {"LAKE_URL": "ftp://x"}, r"LAKE_URL='ftp://x'", cli("interactions", "--file", "{good}", "--ds", DS)),
    environment("lake-url-s3-without-bucket", {"LAKE_URL": "s3://"}, r"LAKE_URL='s3://'.*bucket", cli("load", "--ds", DS)),
    environment("lake-url-under-a-file", {"LAKE_URL": "file:///dev/null/lake"}, r"/dev/null", cli("interactions", "--file", "{good}", "--ds", DS)),
    environment("raw-schema-with-a-quote", {"RAW_SCHEMA": 'raw"; drop schema raw cascade; --'}, r"RAW_SCHEMA"),
    environment("raw-schema-with-a-semicolon", {"RAW_SCHEMA": "raw;"}, r"RAW_SCHEMA='raw;'", cli("interactions", "--file", "{good}", "--ds", DS)),
    environment("raw-schema-empty", {"RAW_SCHEMA": ""}, r"RAW_SCHEMA=''"),
    environment("raw-schema-too-long", {"RAW_SCHEMA": "r" * 64}, r"RAW_SCHEMA.*63"),
    environment("raw-schema-upper-case", {"RAW_SCHEMA": "Raw"}, r"RAW_SCHEMA='Raw'", cli("load", "--ds", DS)),
    case("status-by-a-login-without-raw-access", status(), r"may not read", setup=login_without_raw_access),
    case("summary-by-a-login-without-raw-access", cli("summary", "--ds", DS), r"may not read", setup=login_without_raw_access),
    case("warehouse-port-that-closes-at-once", status(), r"cannot reach the warehouse", setup=server_env(lambda c: c.close())),
    case("warehouse-port-that-never-answers", status(), r"cannot reach the warehouse", setup=server_env(lambda c: None)),
    case("connection-lost-during-copy", ingest_file(), r"nothing was changed|nothing was committed", setup=connection_lost_during_copy),
    case("connection-lost-during-load", cli("load", "--source", "interactions", "--ds", DS), r"nothing was changed|nothing was committed", setup=connection_lost_during_load),
    # --- the lake's manifest of a day ----------------------------------------------------------
    manifest("manifest-empty-list", lambda d, ctx: [], r"manifest"),
    manifest("manifest-null", lambda d, ctx: None, r"manifest"),
    manifest("manifest-a-string", lambda d, ctx: "x", r"manifest"),
    manifest("manifest-only-parts-x", lambda d, ctx: {"parts": "x"}, r"unusable manifest"),
    manifest("manifest-parts-a-string", valid_except(parts="x"), r"manifest"),
    manifest("manifest-parts-of-strings", valid_except(parts=["part-00000.csv.gz"]), r"manifest"),
    manifest("manifest-columns-a-string", valid_except(columns="interaction_id"), r"manifest"),
    manifest("manifest-columns-of-numbers", valid_except(columns=[1, 2, 3, 4, 5]), r"manifest"),
    manifest("manifest-counts-as-text", valid_except(rows_read="2000"), r"counts do not add up"),
    manifest("manifest-rejects-a-string", valid_except(rejects="x"), r"manifest"),
    manifest("manifest-part-without-key", lambda d, ctx: {**d, "parts": [{"rows": 1}]}, r"manifest"),
    manifest("manifest-part-key-absolute", part_except(key="/etc/hostname"), r"missing|manifest"),
    manifest("manifest-part-key-dot-dot", other_days_parts, r"outside|manifest", ds=SPARE),
    case("manifest-is-a-folder", cli("load", "--source", "interactions", "--ds", DS), r"is a folder, not a manifest", setup=manifest_is_a_folder),
    manifest("manifest-not-json", lambda d, ctx: b"{not json", r"not valid JSON"),
    manifest("manifest-nested-100k-deep", lambda d, ctx: b"[" * 100_000 + b"]" * 100_000, r"manifest"),
]
# fmt: on


def run_cli(ctx: Ctx, args: Sequence[str | bytes], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ctx.prefix, sys.executable, "-m", "loaders", *args], cwd=PROJECT_DIR,
        env=env_for(ctx.stack.settings, **env), capture_output=True, text=True, errors="backslashreplace",
        timeout=TIMEOUT,
    )  # fmt: skip


@pytest.mark.parametrize("kind", CASES)
def test_hostile_input(stack: Stack, tmp_path: Path, kind: Case) -> None:
    ctx = Ctx(stack, tmp_path, env=dict(kind.env))
    skip = None if kind.expect == "refused" else kind.day
    before = snapshot(stack, skip)
    try:
        if kind.setup:
            kind.setup(ctx)
        result = run_cli(ctx, kind.args(ctx), ctx.env)
    finally:
        for cleanup in reversed(ctx.cleanups):
            cleanup()
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert "internal error" not in output, output[-3000:]
    if kind.forbid:
        assert kind.forbid not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if kind.expect == "refused":
        assert result.returncode != 0, output[-3000:]
        assert len(errors) == 1, result.stderr[-3000:]
        assert re.search(kind.match, errors[0]), errors[0]
    else:
        assert result.returncode == 0, result.stderr[-3000:]
        assert not errors, result.stderr[-3000:]
    if kind.expect in ("quarantined", "accepted"):
        audit = stack.wh.execute(
            "select rows_loaded, rows_rejected from raw.load_audit where ds = %s", (kind.day,)
        ).fetchall()
        assert len(audit) == 1 and audit[0][0] > 0, audit
        reasons = [
            r
            for (r,) in stack.wh.execute(
                "select reason from raw.user_interactions_rejects where _ds = %s", (kind.day,)
            ).fetchall()
        ]
        if kind.expect == "accepted":
            assert reasons == [] and audit[0][1] == 0
        else:
            assert reasons and all(re.search(kind.match, r) for r in reasons), reasons
    assert snapshot(stack, skip) == before


def test_the_corpus_is_wide() -> None:
    assert len(CASES) >= 60
    assert len({p.id for p in CASES}) == len(CASES)
