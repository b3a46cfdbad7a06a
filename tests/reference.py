"""Independent reference computations for the tests, written with the standard library only.

They re-derive from a CSV file what each layer must hold, without sharing code with the loaders
or the dbt models, so a test comparing the two can catch a mistake in either.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FIELDS = 5
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)?$")
ID = re.compile(r"^[0-9]{1,18}$")


@dataclass
class Expected:
    lines_read: int = 0
    structurally_valid: list[list[str]] = field(default_factory=list)
    structural_rejects: list[int] = field(default_factory=list)  # line numbers
    clean: dict[int, tuple[int, int, str]] = field(default_factory=dict)  # id -> (user, product, action)
    value_rejects: Counter[str] = field(default_factory=Counter)

    @property
    def pair_counts(self) -> Counter[tuple[int, int]]:
        return Counter((user, product) for user, product, _ in self.clean.values())


def _structurally_valid(line: str) -> list[str] | None:
    """The fields of one line, or None if it is not a well-formed 5-field CSV record."""
    if not line or "\x00" in line or "\r" in line:
        return None
    if line.count('"') % 2:
        return None
    try:
        rows = list(csv.reader([line], strict=True))
    except csv.Error:
        return None
    if len(rows) != 1 or len(rows[0]) != FIELDS:
        return None
    # a quote inside an unquoted field is not legal CSV
    for raw in _split_keeping_quotes(line):
        if '"' in raw and not (raw.startswith('"') and raw.endswith('"') and len(raw) >= 2):
            return None
    return rows[0]


def _split_keeping_quotes(line: str) -> list[str]:
    parts, current, quoted = [], [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _timestamp(text: str) -> dt.datetime | None:
    text = text.strip()
    if not ISO.match(text):
        return None
    if not re.search(r"(Z|[+-]\d{2}(:?\d{2})?)$", text):
        text += "Z"
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def expected_from_csv(path: Path) -> Expected:
    """What loading ``path`` and running the staging rules must give."""
    expected = Expected()
    raw = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].lstrip("\ufeff").split(",")
    for number, line in enumerate(lines[1:], start=2):
        expected.lines_read += 1
        fields = _structurally_valid(line)
        if fields is None:
            expected.structural_rejects.append(number)
            continue
        row = dict(zip(header, fields, strict=True))
        expected.structurally_valid.append(fields)
        iid, user, product = (row[k].strip() for k in ("interaction_id", "user_id", "product_id"))
        reason = None
        if not iid:
            reason = "missing interaction_id"
        elif not ID.match(iid):
            reason = "invalid interaction_id"
        elif not user:
            reason = "missing user_id"
        elif not ID.match(user):
            reason = "invalid user_id"
        elif not product:
            reason = "missing product_id"
        elif not ID.match(product):
            reason = "invalid product_id"
        elif not row["timestamp"].strip():
            reason = "missing timestamp"
        elif _timestamp(row["timestamp"]) is None:
            reason = "malformed timestamp"
        elif int(iid) in expected.clean:
            reason = "duplicate interaction_id"
        if reason:
            expected.value_rejects[reason] += 1
            continue
        action = row["action"].strip().lower() or "unknown"
        expected.clean[int(iid)] = (int(user), int(product), action)
    return expected
