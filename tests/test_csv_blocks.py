"""The block validator: clean blocks pass untouched, each kind of broken line is caught."""

from __future__ import annotations

import pytest

from loaders.csv_blocks import MAX_FIELD_BYTES, BlockValidator, copy_text, reject_text

V = BlockValidator(5)
GOOD = b"1,10,100,view,2026-11-20T10:00:00Z\n"


def test_a_clean_block_passes_through_byte_for_byte() -> None:
    block = GOOD * 1000
    result = V.validate(block, first_line_number=2)
    assert result.good is block
    assert (result.lines, result.good_lines, result.rejects) == (1000, 1000, [])


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"", "empty line"),
        (b"1,10,100,view", "wrong field count: 4 fields, expected 5"),
        (b"1,10,100,view,2026-11-20T10:00:00Z,extra", "wrong field count: 6 fields, expected 5"),
        (b'1,10,100,"view,2026-11-20T10:00:00Z', "unbalanced or stray quotes"),
        (b'1,10,100,vi"ew,2026-11-20T10:00:00Z', "unbalanced or stray quotes"),
        (b"1,10,100,view\x00,2026-11-20T10:00:00Z", "NUL byte in line"),
        (b"1,10,100,vi\xffew,2026-11-20T10:00:00Z", "invalid UTF-8 at byte 12"),
        (b"1,10,100,view\r,2026-11-20T10:00:00Z", "carriage return inside the line"),
    ],
)
def test_each_kind_of_broken_line_is_rejected_with_its_reason(line: bytes, reason: str) -> None:
    block = GOOD + line + b"\n" + GOOD
    result = V.validate(block, first_line_number=2)
    assert result.good == GOOD + GOOD
    assert [(r.line_number, r.raw, r.reason) for r in result.rejects] == [(3, line, reason)]
    assert result.lines == 3
    assert result.good_lines == 2


@pytest.mark.parametrize(
    "line",
    [
        b'1,10,100,"view",2026-11-20T10:00:00Z',
        b'1,10,100,"add, to cart",2026-11-20T10:00:00Z',
        b'1,10,100,"say ""hi""",2026-11-20T10:00:00Z',
        "1,10,100,vue \u00e9t\u00e9,2026-11-20T10:00:00Z".encode(),
    ],
)
def test_legal_csv_that_needs_a_closer_look_is_kept(line: bytes) -> None:
    block = GOOD + line + b"\n"
    result = V.validate(block, first_line_number=2)
    assert result.rejects == []
    assert result.good == block


def test_lines_with_too_few_and_too_many_fields_do_not_cancel_out() -> None:
    # 4 + 6 fields: the block has as many commas as two good lines
    block = GOOD + b"1,2,3,4\n" + b"1,2,3,4,5,6\n" + GOOD
    result = V.validate(block, first_line_number=10)
    assert [r.line_number for r in result.rejects] == [11, 12]
    assert result.good == GOOD + GOOD


def test_line_numbers_count_from_the_block_start() -> None:
    block = GOOD * 5 + b"bad\n" + GOOD * 5 + b"also,bad\n"
    result = V.validate(block, first_line_number=100)
    assert [r.line_number for r in result.rejects] == [105, 111]


def test_rejected_raw_text_is_storable_and_keeps_every_byte_visible() -> None:
    assert reject_text(b"a\xffb\x00c") == "a\\xffb\\x00c"


def test_copy_text_passes_a_block_without_quotes_or_backslashes_unchanged() -> None:
    block = GOOD * 1000 + b"2,,100,,2026-11-20T10:00:00Z\n"
    assert copy_text(block) is block


def test_copy_text_escapes_backslashes_and_unquotes_quoted_fields() -> None:
    block = GOOD + b'1,"a,b","say ""hi""",x\\y,""\n' + b"2,\\N,,z,\\.\n" + GOOD
    assert copy_text(block) == GOOD + b'1,a\\,b,say "hi",x\\\\y,\n' + b"2,\\\\N,,z,\\\\.\n" + GOOD


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_a_field_over_the_warehouse_limit_is_quarantined_and_one_at_the_limit_kept(quoted: bool) -> None:
    """A raw column holds at most 65,535 bytes everywhere (Redshift's varchar): a longer field
    would fail the whole day's COPY there, so its line is quarantined with the reason."""
    q = b'"' if quoted else b""
    at_limit = b"2,11,101," + q + b"v" * MAX_FIELD_BYTES + q + b",2026-11-20T10:00:00Z\n"
    over = b"3,12,102,view," + q + "é".encode() * 100_000 + q + b"\n"
    block = (
        b"1,10,100,view,2026-11-20T10:00:00Z\n" + at_limit + over + b"4,13,103,view,2026-11-20T11:00:00Z\n"
    )
    result = BlockValidator(5).validate(block, 2)
    assert (result.lines, result.good_lines) == (4, 3)
    assert [(r.line_number, r.reason) for r in result.rejects] == [
        (4, "field 5 is longer than 65,535 bytes: 200,000")
    ]
    assert at_limit in result.good
