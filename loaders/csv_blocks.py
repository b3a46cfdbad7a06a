"""Structural validation of delimited text, a block of lines at a time, at memory speed.

A block (complete lines, LF endings) is reduced to its skeleton: only the bytes that can break
a CSV row survive (delimiters, quotes, CR, NUL, newlines). A clean block of n lines with k
fields has the skeleton ``("," * (k - 1) + "\\n") * n``: one ``bytes.translate`` and one
comparison in C, no Python per row. Only a block that fails that test is examined line by line
(positions found with numpy), and only its suspicious lines are classified in Python. The good
lines pass through byte for byte; the others come back as rejects with a reason.

``copy_text`` turns the good lines into what PostgreSQL's ``COPY ... (format text)`` reads
fastest; for a block without quotes or backslashes that is the block itself.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_SPECIAL = b',\n"\r\x00'
_DELETE_ALL_BUT_SPECIAL = bytes(b for b in range(256) if b not in _SPECIAL)
_DELETE_ALL_BUT_STRUCTURE = bytes(b for b in range(256) if b not in b",\n\r\x00")
_NL, _COMMA = ord("\n"), ord(",")
_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", "\n": "\\n", "\r": "\\r"})
# a line whose quoting PostgreSQL's CSV COPY and Python's csv module read the same way: every
# field is either unquoted without quotes, or wholly quoted with inner quotes doubled
_CANONICAL_QUOTED_LINE = re.compile(r'(?:[^,"]*|"(?:[^"]|"")*")(?:,(?:[^,"]*|"(?:[^"]|"")*"))*')
_REASON_DETAIL = re.compile(r"(?: at byte \d+|:.*)$", re.DOTALL)
# the longest field a raw column holds everywhere the project loads (Redshift's varchar(65535) is
# counted in bytes); a longer one is quarantined here rather than failing the warehouse's COPY
MAX_FIELD_BYTES = 65_535


@dataclass(frozen=True)
class Reject:
    line_number: int  # 1-based, counting the header as line 1
    raw: bytes
    reason: str


@dataclass
class BlockResult:
    good: bytes  # the valid lines, unchanged, each ending in \n
    lines: int  # lines in the block
    good_lines: int
    rejects: list[Reject]


def reason_kind(reason: str) -> str:
    """The kind of a reject reason, for counting: its details (a byte offset, the fields
    found) dropped, so that one kind of fault is one bucket however many offsets it has."""
    return _REASON_DETAIL.sub("", reason)


class BlockValidator:
    """Validates blocks of one file whose rows must have ``fields`` fields."""

    def __init__(self, fields: int) -> None:
        self.fields = fields
        self._clean_line = b"," * (fields - 1) + b"\n"

    def validate(self, block: bytes, first_line_number: int) -> BlockResult:
        lines = block.count(b"\n")
        if _has_a_line_longer_than(block, MAX_FIELD_BYTES):  # rare: look at every line
            skeleton = block.translate(None, _DELETE_ALL_BUT_SPECIAL)
            return self._validate_lines(block, skeleton, lines, first_line_number)
        utf8 = block.isascii() or _is_utf8(block)
        if b'"' not in block:
            skeleton = block.translate(None, _DELETE_ALL_BUT_SPECIAL)
            if skeleton == self._clean_line * lines and utf8:
                return BlockResult(block, lines, lines, [])
        elif utf8 and block.translate(None, _DELETE_ALL_BUT_STRUCTURE) == self._clean_line * lines:
            # every line has the right delimiters outside quotes' reach; only the few lines with
            # a quote need a look (a quoted field must be whole, and hide no delimiter)
            return self._validate_quoted_lines(block, lines, first_line_number)
        skeleton = block.translate(None, _DELETE_ALL_BUT_SPECIAL)
        return self._validate_lines(block, skeleton, lines, first_line_number)

    def _validate_quoted_lines(self, block: bytes, lines: int, first_line_number: int) -> BlockResult:
        rejects: list[Reject] = []
        pieces: list[bytes] = []
        kept_from = 0
        for start, end in _lines_with_a_quote(block):
            line = block[start:end]
            reason = self.classify(line)
            if reason is not None:
                rejects.append(Reject(first_line_number + block.count(b"\n", 0, start), line, reason))
                pieces.append(block[kept_from:start])
                kept_from = end + 1
        if not rejects:
            return BlockResult(block, lines, lines, [])
        pieces.append(block[kept_from:])
        return BlockResult(b"".join(pieces), lines, lines - len(rejects), rejects)

    def _validate_lines(
        self, block: bytes, skeleton: bytes, lines: int, first_line_number: int
    ) -> BlockResult:
        data = np.frombuffer(block, dtype=np.uint8)
        ends = np.flatnonzero(data == _NL)
        starts = np.concatenate(([0], ends[:-1] + 1))
        sk = np.frombuffer(skeleton, dtype=np.uint8)
        sk_ends = np.flatnonzero(sk == _NL)
        sk_starts = np.concatenate(([0], sk_ends[:-1] + 1))
        commas_before = np.concatenate(([0], np.cumsum(sk == _COMMA)))
        commas = commas_before[sk_ends] - commas_before[sk_starts]
        specials = sk_ends - sk_starts
        suspicious = (commas != self.fields - 1) | (specials != commas) | ((ends - starts) > MAX_FIELD_BYTES)
        if not block.isascii():
            high_before = np.concatenate(([0], np.cumsum(data >= 0x80)))
            suspicious |= (high_before[ends] - high_before[starts]) > 0

        rejects: list[Reject] = []
        pieces: list[bytes] = []
        kept_from = 0
        for index in np.flatnonzero(suspicious).tolist():
            start, end = int(starts[index]), int(ends[index])
            line = block[start:end]
            reason = self.classify(line)
            if reason is None:
                continue  # legal after all (quoted fields, non-ASCII text)
            rejects.append(Reject(first_line_number + index, line, reason))
            pieces.append(block[kept_from:start])
            kept_from = end + 1
        if not rejects:
            return BlockResult(block, lines, lines, [])
        pieces.append(block[kept_from:])
        return BlockResult(b"".join(pieces), lines, lines - len(rejects), rejects)

    def classify(self, line: bytes) -> str | None:
        """Why one line (without its newline) cannot be loaded, or None if it can."""
        if not line:
            return "empty line"
        if b"\x00" in line:
            return "NUL byte in line"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            return f"invalid UTF-8 at byte {err.start + 1}"
        if "\r" in text:
            return "carriage return inside the line"
        if '"' in text:
            if not _CANONICAL_QUOTED_LINE.fullmatch(text):
                return "unbalanced or stray quotes"
            found = len(next(csv.reader([text], strict=True)))
        else:
            found = text.count(",") + 1
        if found != self.fields:
            return f"wrong field count: {found} fields, expected {self.fields}"
        if len(line) > MAX_FIELD_BYTES:
            fields = next(csv.reader([text], strict=True)) if '"' in text else text.split(",")
            for number, value in enumerate(fields, start=1):
                if len(value.encode()) > MAX_FIELD_BYTES:
                    return f"field {number} is longer than {MAX_FIELD_BYTES:,} bytes: {len(value.encode()):,}"
        return None


def copy_text(block: bytes) -> bytes:
    """Valid lines (as ``validate`` returns them) in PostgreSQL's COPY text format with a comma
    delimiter, which the server reads about 15 % faster than CSV: backslash-escaped, and an
    empty field, quoted or not, is NULL (load with ``(format text, delimiter ',', null '')``).

    A block without quotes or backslashes (nearly every block) is already in that format and
    passes unchanged; only lines with a quoted field go through the csv module.
    """
    if b'"' not in block:
        return _escape_backslashes(block)
    pieces: list[bytes] = []
    done = 0
    for start, end in _lines_with_a_quote(block):
        pieces.append(_escape_backslashes(block[done:start]))
        fields = next(csv.reader([block[start:end].decode("utf-8")], strict=True))
        pieces.append(",".join(field.translate(_TEXT_ESCAPES) for field in fields).encode() + b"\n")
        done = end + 1
    pieces.append(_escape_backslashes(block[done:]))
    return b"".join(pieces)


def _has_a_line_longer_than(block: bytes, limit: int) -> bool:
    """Whether some line of ``block`` is longer than ``limit`` bytes: a hop of about ``limit``
    bytes at a time (``rfind`` in C), so a block of short lines costs a few calls."""
    start = 0
    while len(block) - start > limit + 1:
        newline = block.rfind(b"\n", start, start + limit + 1)
        if newline < 0:
            return True
        start = newline + 1
    return False


def _lines_with_a_quote(block: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each line of ``block`` that holds a quote; ``end`` is its newline."""
    position = block.find(b'"')
    while position >= 0:
        start = block.rfind(b"\n", 0, position) + 1
        end = block.find(b"\n", position)
        yield start, end
        position = block.find(b'"', end)


def _escape_backslashes(data: bytes) -> bytes:
    return data.replace(b"\\", b"\\\\") if b"\\" in data else data


def _is_utf8(block: bytes) -> bool:
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def reject_text(raw: bytes) -> str:
    """The raw line as storable text: undecodable bytes and NULs as backslash escapes."""
    return raw.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")
