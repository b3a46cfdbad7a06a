"""Ingest a day's interactions CSV: validate, land in the lake, load into ``raw``, in one pass.

The file is read in blocks and streamed, never held in memory. Each block is validated
structurally (see ``csv_blocks``); its good lines go at once, as delivered, into the lake's gzip
part (on a second thread) and, in COPY's text format (which the server parses faster than CSV),
to a ``COPY ... FREEZE`` into a fresh partition for the day created in the same transaction (no
WAL with the local server's ``wal_level=minimal``, no hint-bit rewrite or vacuum later); broken
lines are quarantined with their line number, raw text and reason. The day is replaced in one
transaction, with its audit row (rows read = loaded + rejected) and the lake version it holds,
so loading a day twice leaves one copy. That commit is the load's one commit point: the lake's
new version is staged before it and published after it, and a crash in between is rolled
forward by the next load of the day (``loaders/reconcile.py``), so the lake and raw always end
with the same version, the old or the new one.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import hashlib
import io
import logging
import os
import stat
import time
import zlib
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import psycopg
from psycopg import sql

from loaders import failpoints, warehouse
from loaders.catalog import INTERACTIONS
from loaders.config import PostgresTarget
from loaders.csv_blocks import BlockValidator, Reject, copy_text, reason_kind, reject_text
from loaders.day_guard import DEFAULT_MAX_REJECT_FRACTION, DayGuard
from loaders.days import day_prefix, validate_ds
from loaders.errors import BadInputError, LoaderError
from loaders.lake import DayWriter, Lake
from loaders.reconcile import commit_day, first_line, reconcile_day
from loaders.streams import GzipPart, ThreadedSink

log = logging.getLogger(__name__)

SOURCE, TABLE = INTERACTIONS.source, INTERACTIONS.name
COLUMNS = tuple(INTERACTIONS.column_names)
BLOCK_SIZE = 1 << 20
MAX_LINE_BYTES = 64 << 20
MAX_HEADER_BYTES = 64 << 10
PROGRESS_EVERY_SECONDS = 2.0


@dataclass
class IngestResult:
    ds: str
    source_file: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    source_sha256: str = ""
    rejects_by_reason: Counter[str] = field(default_factory=Counter)
    lake_uri: str = ""
    load_id: int | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0


def ingest_interactions(
    path: Path | str,
    ds: str,
    *,
    lake: Lake,
    warehouse_target: PostgresTarget | None,
    raw_schema: str = "raw",
    max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION,
    allow_shrink: bool = False,
    s3_client: Any = None,
) -> IngestResult:
    """Land ``path`` (a local file, or an ``s3://bucket/key`` URI read with ``s3_client``) as day
    ``ds`` in the lake and (unless ``warehouse_target`` is None) in ``raw.user_interactions``;
    return the counts. The file replaces a day already landed only if it is plausibly the whole
    day (``loaders/day_guard.py``); otherwise BadInputError, and nothing changes."""
    validate_ds(ds)
    guard = DayGuard(max_reject_fraction, allow_shrink)
    started_at = dt.datetime.now(dt.UTC)
    start = time.monotonic()
    source, name = _open_source(path, s3_client)
    result = IngestResult(ds=ds, source_file=name)
    checksum = hashlib.sha256()
    with source:
        header = _read_header(source, path, checksum, result)
        conn = warehouse.connect(warehouse_target) if warehouse_target else None
        try:
            _land_and_load(source, path, header, lake, conn, raw_schema, checksum, result,
                           guard, started_at, start)  # fmt: skip
        except psycopg.Error as err:  # before the load began: schema, lock, reconcile
            raise LoaderError(
                f"preparing the warehouse for {path} failed ({first_line(err)}); nothing was changed"
            ) from err
        finally:
            if conn is not None:
                conn.close()
    result.seconds = time.monotonic() - start
    _log_progress(result, result.seconds, done=True)
    return result


def _open_source(path: Path | str, s3_client: Any) -> tuple[BinaryIO, str]:
    """The file as a binary stream, and the name it is recorded under (absolute path or URI).

    Only a regular file is read: a FIFO, a device or a socket is refused before it is opened for
    reading (it could block for ever, or never end)."""
    if isinstance(path, str) and path.startswith("s3://"):
        folder, _, key = path.rpartition("/")
        try:
            return Lake.from_url(folder, s3_client).open_read(key), path
        except FileNotFoundError:
            raise BadInputError(f"{path}: no such object; drop the day's CSV there first") from None
    given, path = path, Path(path)
    try:
        # the path as given (a final / means a folder); O_NONBLOCK: opening a FIFO without a
        # writer returns at once (and is refused below)
        fd = os.open(given, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file; pass the day's CSV with --file") from None
    except IsADirectoryError:
        raise BadInputError(f"{path} is a folder; pass the day's CSV file with --file") from None
    except OSError as err:
        if err.errno == errno.ENXIO:  # a socket
            raise BadInputError(f"{path} is not a regular file (a socket); pass the day's CSV file") from None
        raise BadInputError(
            f"{given}: cannot open it ({err.strerror}); pass a CSV file you may read with --file"
        ) from None
    kind = os.fstat(fd).st_mode
    if not stat.S_ISREG(kind):
        os.close(fd)
        if stat.S_ISDIR(kind):
            raise BadInputError(f"{path} is a folder; pass the day's CSV file with --file")
        what = "a FIFO" if stat.S_ISFIFO(kind) else "a device or other special file"
        raise BadInputError(
            f"{path} is not a regular file ({what}); copy the day's CSV to a file and pass that with --file"
        )
    os.set_blocking(fd, True)
    # a name that is not UTF-8 is recorded with its odd bytes escaped
    name = os.fsencode(os.path.realpath(path)).decode("utf-8", errors="backslashreplace")
    return os.fdopen(fd, "rb"), name


def _read_header(
    source: BinaryIO, path: Path | str, checksum: hashlib._Hash, result: IngestResult
) -> list[str]:
    first = source.readline(MAX_HEADER_BYTES + 1)
    if not first:
        raise BadInputError(f"{path} is empty: expected a header line {','.join(COLUMNS)} followed by rows")
    checksum.update(first)
    result.bytes_read += len(first)
    expected = f"expected the header {','.join(COLUMNS)} (in any order)"
    if first.startswith(b"\x1f\x8b"):
        raise BadInputError(f"{path} is gzip-compressed; decompress it and load the CSV")
    if b"\x00" in first:
        raise BadInputError(
            f"{path} line 1 holds NUL bytes (UTF-16 or UTF-32 text?); save it as UTF-8 text; {expected}"
        )
    if b"\r" in first.rstrip(b"\r\n"):
        raise BadInputError(
            f"{path} line 1: a carriage return (CR) inside the line: lines ending in CR only? "
            "Convert them to LF or CRLF and load it again"
        )
    if len(first) > MAX_HEADER_BYTES:
        raise BadInputError(
            f"{path} line 1 is longer than {MAX_HEADER_BYTES >> 10} KiB: not a header; {expected}"
        )
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise BadInputError(f"{path} line 1: the header is not UTF-8 text; save the file as UTF-8") from None
    try:
        names = [name.strip().lower() for name in next(csv.reader([text]), [])]
    except csv.Error as err:
        raise BadInputError(f"{path} line 1: the header is not a CSV line ({err}); {expected}") from None
    if sorted(names) != sorted(COLUMNS):
        missing = [c for c in COLUMNS if c not in names]
        extra = [n for n in names if n not in COLUMNS]
        problems = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}" if extra else "",
            "a column appears twice" if len(names) != len(set(names)) else "",
        ]
        raise BadInputError(
            f"{path} line 1: header is {text[:200]!r} ({'; '.join(p for p in problems if p)}); {expected}"
        )
    return names


def _land_and_load(
    source: BinaryIO,
    path: Path | str,
    header: list[str],
    lake: Lake,
    conn: psycopg.Connection | None,
    schema: str,
    checksum: hashlib._Hash,
    result: IngestResult,
    guard: DayGuard,
    started_at: dt.datetime,
    start: float,
) -> None:
    """Write the file as a new version of the day in the lake and into raw; the warehouse's
    commit is the commit point, the lake's publish follows it (``loaders/reconcile.py``)."""
    prefix = day_prefix(SOURCE, TABLE, result.ds)
    if conn is not None:
        warehouse.ensure_raw_schema(conn, schema)
        warehouse.lock_day(conn, TABLE, result.ds)  # held until this load commits or rolls back
        reconcile_day(lake, conn, schema, SOURCE, TABLE, result.ds)
    rejects: list[Reject] = []
    with lake.write_day(prefix, publish=conn is None) as day:
        previous_valid = _landed_valid_rows(day.replaces.document)
        part = GzipPart(day, "part-00000.csv.gz")
        replacement: warehouse.DayReplacement | None = None  # with a warehouse: its day being replaced
        try:
            part.write((",".join(header) + "\n").encode())
            if conn is None:
                _stream_blocks(source, path, checksum, result, rejects, part.write, None, start)
            else:
                replacement = warehouse.begin_day_replacement(conn, schema, TABLE, result.ds)
                result.load_id = replacement.load_id
                # the lake keeps the CSV as delivered; the server is fed COPY's text format
                statement = sql.SQL(
                    "copy {} ({}) from stdin (format text, delimiter ',', null '', freeze)"
                ).format(replacement.target, sql.SQL(", ").join(map(sql.Identifier, header)))
                cursor = conn.cursor()
                # a thread of its own feeds the server, a few blocks behind the reader
                with (
                    cursor.copy(statement) as copy,
                    ThreadedSink(copy.write, name="copy-feeder") as feeder,
                ):
                    _stream_blocks(source, path, checksum, result, rejects, part.write, feeder.write, start)
                if cursor.rowcount != result.rows_loaded:
                    raise LoaderError(
                        f"the warehouse received {cursor.rowcount:,} rows but {result.rows_loaded:,} were sent; "
                        "nothing was changed. Please report this file"
                    )
            part_info = {**part.close(), "rows": result.rows_loaded}
            result.rows_rejected = len(rejects)
            result.rows_read = result.rows_loaded + result.rows_rejected
            result.source_sha256 = checksum.hexdigest()
            result.rejects_by_reason = Counter(reason_kind(r.reason) for r in rejects)
            guard.check(
                str(path),
                valid=result.rows_loaded,
                rejected=result.rows_rejected,
                previous_valid=previous_valid,
                first_reject=f"at line {rejects[0].line_number}: {rejects[0].reason}" if rejects else None,
            )
            rejects_info = _write_rejects_file(day, rejects)
            day.stage_manifest(_manifest(result, header, part_info, rejects_info, path))
            failpoints.reached("ingest:staged")
            if replacement is not None:
                _finish_warehouse_load(replacement, result, rejects, started_at, start, day.version)
                failpoints.reached("ingest:before-commit")
                commit_day(replacement.conn, day, f"{TABLE} {result.ds}")
        except BaseException as err:
            part.abort()
            if conn is not None and not day.keep_on_error:
                with suppress(psycopg.Error):
                    conn.rollback()
            if isinstance(err, psycopg.Error):
                raise LoaderError(
                    f"loading {path} into the warehouse failed ({first_line(err)}); nothing was changed"
                ) from err
            raise
        if conn is not None:
            # raw holds the new version: publish it in the lake, then drop what it replaced
            lake.publish_version(prefix, day.version, expect=day.replaces)
            failpoints.reached("ingest:published")
            lake.retire(prefix, day.version)
    if conn is None:  # published by write_day; the warehouse (Redshift) may still hold the previous one
        lake.retire(prefix, day.version, spare=day.replaces.version)
    result.lake_uri = lake.uri(prefix)


def _landed_valid_rows(manifest: dict[str, Any] | None) -> int | None:
    """Valid rows of the day already in the lake (None when it was never landed)."""
    valid = manifest.get("rows_valid") if isinstance(manifest, dict) else None
    return valid if isinstance(valid, int) and not isinstance(valid, bool) and valid >= 0 else None


def _stream_blocks(
    source: BinaryIO,
    path: Path | str,
    checksum: hashlib._Hash,
    result: IngestResult,
    rejects: list[Reject],
    to_lake: Callable[[bytes], object],
    to_warehouse: Callable[[bytes], object] | None,
    start: float,
) -> None:
    """Read the rest of the file in blocks of whole lines; send the good lines to the lake (as
    delivered) and to the warehouse's COPY (in COPY's text format)."""
    validator = BlockValidator(len(COLUMNS))
    line_number = 2  # the header is line 1
    carry = b""
    last_report = time.monotonic()
    while data := source.read(BLOCK_SIZE):
        checksum.update(data)
        result.bytes_read += len(data)
        cut = data.rfind(b"\n")
        if cut < 0:
            carry += data
            if len(carry) > MAX_LINE_BYTES:
                raise BadInputError(
                    f"{path} line {line_number}: longer than {MAX_LINE_BYTES >> 20} MiB with no "
                    "line break; this is not a line-delimited CSV"
                )
            continue
        block = carry + data[: cut + 1] if carry else data[: cut + 1]
        carry = data[cut + 1 :]
        line_number = _handle_block(block, line_number, validator, to_lake, to_warehouse, rejects, result)
        failpoints.reached("ingest:copy-started")
        now = time.monotonic()
        if now - last_report >= PROGRESS_EVERY_SECONDS:
            last_report = now
            _log_progress(result, now - start)
    if carry:  # the last line had no final newline
        _handle_block(carry + b"\n", line_number, validator, to_lake, to_warehouse, rejects, result)


def _handle_block(
    block: bytes,
    line_number: int,
    validator: BlockValidator,
    to_lake: Callable[[bytes], object],
    to_warehouse: Callable[[bytes], object] | None,
    rejects: list[Reject],
    result: IngestResult,
) -> int:
    if b"\r" in block:  # memchr; a CR that ends no line is rejected by the validator
        block = block.replace(b"\r\n", b"\n")
    checked = validator.validate(block, line_number)
    if checked.good:
        to_lake(checked.good)
        if to_warehouse is not None:
            to_warehouse(copy_text(checked.good))
    rejects.extend(checked.rejects)
    result.rows_loaded += checked.good_lines
    return line_number + checked.lines


def _finish_warehouse_load(
    replacement: warehouse.DayReplacement,
    result: IngestResult,
    rejects: list[Reject],
    started_at: dt.datetime,
    start: float,
    lake_version: str,
) -> None:
    replacement.finish(
        warehouse.AuditRow(
            source=SOURCE,
            table_name=TABLE,
            ds=result.ds,
            source_file=result.source_file,
            source_sha256=result.source_sha256,
            rows_read=result.rows_read,
            rows_loaded=result.rows_loaded,
            rows_rejected=result.rows_rejected,
            bytes_read=result.bytes_read,
            seconds=time.monotonic() - start,
            started_at=started_at,
            lake_version=lake_version,
        ),
        ((r.line_number, reject_text(r.raw), r.reason) for r in rejects),
    )


def _write_rejects_file(day: DayWriter, rejects: list[Reject]) -> dict[str, Any]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("line_number", "reason", "raw_line"))
    for reject in rejects:
        writer.writerow((reject.line_number, reject.reason, reject_text(reject.raw)))
    data = zlib.compress(buffer.getvalue().encode(), level=6, wbits=31)
    name = day.object_name("rejects.csv.gz")
    rejects_file = day.open("rejects.csv.gz")
    rejects_file.write(data)
    rejects_file.close()
    return {
        "key": name,
        "rows": len(rejects),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _manifest(
    result: IngestResult, header: list[str], part: dict[str, Any], rejects: dict[str, Any], path: Path | str
) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "table": TABLE,
        "ds": result.ds,
        "source_file": result.source_file,
        "source_name": str(path).rpartition("/")[2] if isinstance(path, str) else path.name,
        "source_bytes": result.bytes_read,
        "source_sha256": result.source_sha256,
        "format": "csv.gz",
        "csv": {"header": True, "delimiter": ",", "quote": '"', "encoding": "utf-8"},
        "columns": [{"name": name, "type": "text"} for name in header],
        "parts": [part],
        "rejects": {**rejects, "by_reason": dict(result.rejects_by_reason)},
        "rows_read": result.rows_read,
        "rows_valid": result.rows_loaded,
        "rows_rejected": result.rows_rejected,
        "landed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _log_progress(result: IngestResult, seconds: float, done: bool = False) -> None:
    rows = result.rows_loaded + (result.rows_rejected or 0)
    rate = rows / seconds if seconds else 0.0
    mbps = result.bytes_read / 1e6 / seconds if seconds else 0.0
    if done:
        log.info(
            "%s %s: %s rows read, %s loaded, %s rejected in %.2fs (%s rows/s, %.0f MB/s)",
            TABLE, result.ds, f"{result.rows_read:,}", f"{result.rows_loaded:,}",
            f"{result.rows_rejected:,}", seconds, f"{rate:,.0f}", mbps,
        )  # fmt: skip
    else:
        log.info(
            "%s %s: %s rows so far (%s rows/s, %.0f MB/s)",
            TABLE,
            result.ds,
            f"{rows:,}",
            f"{rate:,.0f}",
            mbps,
        )
