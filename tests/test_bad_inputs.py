"""Bad input, nothing lost: each kind of bad input gets a clear error with the warehouse
unchanged, or a quarantine row with its reason, and rows read = loaded + rejected holds.

Structural problems are caught by the loader (``raw.user_interactions_rejects``); value
problems (ids, timestamps, duplicates) by dbt staging (``stg_interactions__user_interaction_rejects``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from loaders.catalog import SHOP_TABLES
from loaders.config import Settings
from loaders.errors import BadInputError, LoaderError, UnreachableError
from loaders.interactions import ingest_interactions
from loaders.lake import Lake
from loaders.load import load_day
from loaders.sample_data import ShopScale, generate_shop, write_interactions_csv
from loaders.shop import extract_table
from tests.conftest import free_port, fresh_warehouse, run_dbt

DS = "2026-11-20"
HEADER = b"interaction_id,user_id,product_id,action,timestamp\n"
GOOD = b"1,10,100,view,2026-11-20T10:00:00Z\n"
DAY = f"raw/interactions/user_interactions/ds={DS}"


def ingest(settings: Settings, content: bytes, tmp_path: Path, name: str = "day.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return ingest_interactions(
        path, DS, lake=Lake.from_url(settings.lake_url), warehouse_target=settings.warehouse
    )


def accounted(wh: psycopg.Connection) -> tuple[int, int, int]:
    """(read, loaded, rejected) from the audit, checked against the tables themselves."""
    read, loaded, rejected = wh.execute(
        "select rows_read, rows_loaded, rows_rejected from raw.load_audit order by load_id desc limit 1"
    ).fetchone()
    assert wh.execute("select count(*) from raw.user_interactions where _ds = %s", (DS,)).fetchone() == (
        loaded,
    )
    assert wh.execute(
        "select count(*) from raw.user_interactions_rejects where _ds = %s", (DS,)
    ).fetchone() == (rejected,)
    assert read == loaded + rejected
    return read, loaded, rejected


def reasons(wh: psycopg.Connection) -> list[tuple[int, str]]:
    return wh.execute("select line_number, reason from raw.user_interactions_rejects order by 1").fetchall()


@pytest.fixture
def loaded_day(settings: Settings, wh, tmp_path: Path) -> list[tuple]:
    """A good day already loaded: what a refused file must leave untouched."""
    ingest(settings, HEADER + GOOD + b"2,11,101,click,2026-11-20T11:00:00Z\n", tmp_path, "good.csv")
    return wh.execute("select * from raw.user_interactions order by interaction_id").fetchall()


def assert_unchanged(wh: psycopg.Connection, before: list[tuple]) -> None:
    assert wh.execute("select * from raw.user_interactions order by interaction_id").fetchall() == before
    assert wh.execute("select count(*) from raw.load_audit").fetchone() == (1,)


# --- refused whole, warehouse unchanged ---------------------------------------------------------


def test_an_empty_file_is_refused(settings: Settings, wh, loaded_day, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="is empty: expected a header line"):
        ingest(settings, b"", tmp_path)
    assert_unchanged(wh, loaded_day)


def test_a_missing_header_column_is_refused(settings: Settings, wh, loaded_day, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="missing product_id"):
        ingest(
            settings, b"interaction_id,user_id,action,timestamp\n1,10,view,2026-11-20T10:00:00Z\n", tmp_path
        )
    assert_unchanged(wh, loaded_day)


def test_an_extra_header_column_is_refused(settings: Settings, wh, loaded_day, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="unexpected channel"):
        ingest(
            settings,
            HEADER.replace(b"\n", b",channel\n") + b"1,10,100,view,2026-11-20T10:00:00Z,web\n",
            tmp_path,
        )
    assert_unchanged(wh, loaded_day)


def test_a_header_with_a_repeated_column_is_refused(
    settings: Settings, wh, loaded_day, tmp_path: Path
) -> None:
    with pytest.raises(BadInputError, match="appears twice"):
        ingest(settings, b"interaction_id,user_id,user_id,action,timestamp\n", tmp_path)
    assert_unchanged(wh, loaded_day)


def test_a_file_of_the_wrong_delimiter_is_refused_not_quarantined(
    settings: Settings, wh, loaded_day, tmp_path: Path
) -> None:
    body = b"".join(b"%d;10;100;view;2026-11-20T10:00:00Z\n" % i for i in range(500))
    with pytest.raises(BadInputError, match="500 of 500 lines are broken"):
        ingest(settings, HEADER + body, tmp_path)
    assert_unchanged(wh, loaded_day)


def test_a_line_without_end_over_64_mib_is_refused(
    settings: Settings, wh, loaded_day, tmp_path: Path
) -> None:
    with pytest.raises(BadInputError, match="not a line-delimited CSV"):
        ingest(settings, HEADER + b"x" * (65 << 20), tmp_path)
    assert_unchanged(wh, loaded_day)


def test_a_missing_file_is_refused(settings: Settings, wh, loaded_day, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        ingest_interactions(
            tmp_path / "nope.csv",
            DS,
            lake=Lake.from_url(settings.lake_url),
            warehouse_target=settings.warehouse,
        )
    assert_unchanged(wh, loaded_day)


def test_an_unreachable_warehouse_is_one_clear_error(settings: Settings, tmp_path: Path) -> None:
    gone = settings.with_overrides(warehouse=replace(settings.warehouse, port=free_port()))
    with pytest.raises(UnreachableError, match=r"cannot reach the warehouse database .* `make up`"):
        ingest(gone, HEADER + GOOD, tmp_path)


def test_an_unreachable_shop_database_is_one_clear_error(settings: Settings) -> None:
    gone = replace(settings.shop, port=free_port())
    with pytest.raises(UnreachableError, match="cannot reach the shop database"):
        extract_table(gone, Lake.from_url(settings.lake_url), SHOP_TABLES["orders"], DS)


# --- quarantined line by line, the rest loaded --------------------------------------------------


def test_a_header_only_file_is_refused_unless_the_day_may_shrink(
    settings: Settings, wh, tmp_path: Path
) -> None:
    with pytest.raises(BadInputError, match="no valid row"):
        ingest(settings, HEADER, tmp_path)
    assert Lake.from_url(settings.lake_url).list_day(DAY) == []  # nothing landed
    path = tmp_path / "empty.csv"
    path.write_bytes(HEADER)
    result = ingest_interactions(
        path,
        DS,
        lake=Lake.from_url(settings.lake_url),
        warehouse_target=settings.warehouse,
        allow_shrink=True,
    )
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (0, 0, 0)
    assert accounted(wh) == (0, 0, 0)


def test_a_byte_order_mark_and_crlf_line_endings_are_read(settings: Settings, wh, tmp_path: Path) -> None:
    ingest(
        settings, b"\xef\xbb\xbf" + HEADER.replace(b"\n", b"\r\n") + GOOD.replace(b"\n", b"\r\n"), tmp_path
    )
    assert accounted(wh) == (1, 1, 0)
    assert wh.execute('select "timestamp" from raw.user_interactions').fetchone() == ("2026-11-20T10:00:00Z",)


def test_reordered_header_columns_are_mapped_by_name(settings: Settings, wh, tmp_path: Path) -> None:
    ingest(
        settings,
        b"action,timestamp,product_id,user_id,interaction_id\nview,2026-11-20T10:00:00Z,100,10,1\n",
        tmp_path,
    )
    assert wh.execute("select interaction_id, user_id, action from raw.user_interactions").fetchone() == (
        "1",
        "10",
        "view",
    )


def test_wrong_field_counts_are_quarantined(settings: Settings, wh, tmp_path: Path) -> None:
    ingest(settings, HEADER + GOOD + b"2,10,100,view\n" + b"3,10,100,view,2026-11-20T10:00:00Z,x\n", tmp_path)
    assert accounted(wh) == (3, 1, 2)
    assert reasons(wh) == [
        (3, "wrong field count: 4 fields, expected 5"),
        (4, "wrong field count: 6 fields, expected 5"),
    ]


def test_unbalanced_quotes_are_quarantined_without_swallowing_the_next_lines(
    settings: Settings, wh, tmp_path: Path
) -> None:
    ingest(
        settings,
        HEADER + b'1,10,100,"view,2026-11-20T10:00:00Z\n' + GOOD + GOOD.replace(b"1,", b"2,", 1),
        tmp_path,
    )
    assert accounted(wh) == (3, 2, 1)
    assert reasons(wh) == [(2, "unbalanced or stray quotes")]


def test_invalid_utf8_is_quarantined_with_its_bytes_visible(settings: Settings, wh, tmp_path: Path) -> None:
    ingest(settings, HEADER + GOOD + b"2,10,100,vi\xe9w,2026-11-20T10:00:00Z\n", tmp_path)
    assert accounted(wh) == (2, 1, 1)
    assert wh.execute("select raw_line, reason from raw.user_interactions_rejects").fetchone() == (
        "2,10,100,vi\\xe9w,2026-11-20T10:00:00Z",
        "invalid UTF-8 at byte 12",
    )


def test_nul_bytes_are_quarantined(settings: Settings, wh, tmp_path: Path) -> None:
    ingest(settings, HEADER + GOOD + b"2,10,100,view\x00,2026-11-20T10:00:00Z\n", tmp_path)
    assert accounted(wh) == (2, 1, 1)
    assert reasons(wh) == [(3, "NUL byte in line")]


def test_a_10_mb_field_is_quarantined_whole_and_its_neighbours_loaded(
    settings: Settings, wh, tmp_path: Path
) -> None:
    """No raw column holds more than 65,535 bytes (Redshift's varchar): such a line would fail
    the whole day's COPY there, so it is quarantined, kept whole, with the reason."""
    big = b"v" * (10 << 20)
    ingest(
        settings,
        HEADER + GOOD + b"2,10,100," + big + b",2026-11-20T10:00:00Z\n" + GOOD.replace(b"1,", b"3,", 1),
        tmp_path,
    )
    assert accounted(wh) == (3, 2, 1)
    assert reasons(wh) == [(3, "field 4 is longer than 65,535 bytes: 10,485,760")]
    assert wh.execute(
        "select length(raw_line) from raw.user_interactions_rejects where line_number = 3"
    ).fetchone() == (len(b"2,10,100," + big + b",2026-11-20T10:00:00Z"),)


def test_empty_lines_are_quarantined_and_counted(settings: Settings, wh, tmp_path: Path) -> None:
    ingest(settings, HEADER + GOOD + b"\n" + GOOD.replace(b"1,", b"2,", 1), tmp_path)
    assert accounted(wh) == (3, 2, 1)
    assert reasons(wh) == [(3, "empty line")]


# --- lake objects: truncated, tampered, missing ------------------------------------------------


@pytest.fixture
def landed(settings: Settings, tmp_path: Path) -> Path:
    """A day landed in the lake only; returns its folder."""
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=2_000).path
    ingest_interactions(path, DS, lake=Lake.from_url(settings.lake_url), warehouse_target=None)
    return Lake.from_url(settings.lake_url).local_path(DAY)


def part_of(day: Path) -> Path:
    return next(day.glob("part-*.csv.gz"))


def test_a_truncated_gzip_part_is_refused_and_nothing_is_loaded(settings: Settings, wh, landed: Path) -> None:
    part = part_of(landed)
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    manifest = json.loads((landed / "_manifest.json").read_text())
    manifest["parts"][0].pop("sha256")  # only the truncation can give it away
    (landed / "_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BadInputError, match="truncated"):
        load_day(
            Lake.from_url(settings.lake_url), settings.warehouse, "interactions", "user_interactions", DS
        )
    assert wh.execute("select to_regclass('raw.user_interactions__20261120')").fetchone() == (None,)


def test_a_part_that_differs_from_its_checksum_is_refused(settings: Settings, wh, landed: Path) -> None:
    part = part_of(landed)
    part.write_bytes(gzip.compress(gzip.decompress(part.read_bytes()).replace(b"view", b"VIEW")))
    with pytest.raises(BadInputError, match="does not match the checksum"):
        load_day(
            Lake.from_url(settings.lake_url), settings.warehouse, "interactions", "user_interactions", DS
        )
    assert wh.execute("select to_regclass('raw.user_interactions__20261120')").fetchone() == (None,)


def test_a_missing_manifest_is_refused(settings: Settings, landed: Path) -> None:
    (landed / "_manifest.json").unlink()
    with pytest.raises(LoaderError, match=r"no _manifest.json .* land it again"):
        load_day(
            Lake.from_url(settings.lake_url), settings.warehouse, "interactions", "user_interactions", DS
        )


def test_a_manifest_whose_counts_do_not_add_up_is_refused(settings: Settings, landed: Path) -> None:
    manifest = json.loads((landed / "_manifest.json").read_text())
    manifest["rows_read"] += 1
    (landed / "_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BadInputError, match="counts do not add up"):
        load_day(
            Lake.from_url(settings.lake_url), settings.warehouse, "interactions", "user_interactions", DS
        )


def test_a_part_listed_but_missing_is_refused(settings: Settings, landed: Path) -> None:
    part_of(landed).unlink()
    with pytest.raises(BadInputError, match="listed in the manifest but missing"):
        load_day(
            Lake.from_url(settings.lake_url), settings.warehouse, "interactions", "user_interactions", DS
        )


# --- the shop source ---------------------------------------------------------------------------


def test_a_shop_table_missing_a_column_is_refused_and_the_lake_day_kept(
    settings: Settings, tmp_path: Path
) -> None:
    generate_shop(settings.shop, DS, ShopScale(customers=50, products=10, orders_per_day=5, days=2))
    lake = Lake.from_url(settings.lake_url)
    extract_table(settings.shop, lake, SHOP_TABLES["customers"], DS, full=True)
    before = lake.read_manifest(f"raw/shop/customers/ds={DS}")
    with psycopg.connect(settings.shop.conninfo(), autocommit=True) as conn:
        conn.execute("alter table customers drop column phone")
    try:
        with pytest.raises(BadInputError, match="shop table customers has no column phone"):
            extract_table(settings.shop, lake, SHOP_TABLES["customers"], DS, full=True)
        assert lake.read_manifest(f"raw/shop/customers/ds={DS}") == before
    finally:
        generate_shop(settings.shop, DS, ShopScale(customers=50, products=10, orders_per_day=5, days=2))


# --- values: quarantined by dbt staging with a reason --------------------------------------------

VALUE_CASES = {
    # interaction_id: (line, reason or None when the row is kept)
    "101": (b"101,abc,100,view,2026-11-20T10:00:00Z", "invalid user_id"),
    "102": (b"102,10,1e3,view,2026-11-20T10:00:00Z", "invalid product_id"),
    "103": (b"103,-5,100,view,2026-11-20T10:00:00Z", "invalid user_id"),
    "104": (b"104,10,99999999999999999999,view,2026-11-20T10:00:00Z", "invalid product_id"),
    "x105": (b"x105,10,100,view,2026-11-20T10:00:00Z", "invalid interaction_id"),
    "106": (b"106,10,100,view,20/11/2026 10:00", "malformed timestamp"),
    "107": (b"107,10,100,view,2026-02-30T10:00:00Z", "malformed timestamp"),
    "108": (b"108,10,100,view,2026-11-20T25:00:00Z", "malformed timestamp"),
    "109": (b"109,10,100,view,yesterday", "malformed timestamp"),
    "110": (b"110,10,100,view,2026-11-20T12:00:00+02:00", None),  # another time zone: kept, in UTC
    "111": (b"111,10,100,view,2026-11-20 10:00:00", None),  # no offset: UTC
    "112": (b"112,10,100,view,2026-11-20T10:00:00Z", None),
    "112b": (b"112,10,100,view,2026-11-20T10:00:00Z", "duplicate interaction_id"),  # re-delivered in the file
    "113": (b"113,,100,view,2026-11-20T10:00:00Z", "missing user_id"),
    "114": (b"114,10,100,,2026-11-20T10:00:00Z", None),  # empty action: kept as 'unknown'
}


@pytest.fixture(scope="module")
def staged(
    pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, dict]]:
    """The value cases loaded on two days (the second re-delivers 112), staged by dbt."""
    folder = tmp_path_factory.mktemp("values")
    with fresh_warehouse(pg_settings, folder) as settings:
        lake = Lake.from_url(settings.lake_url)
        day1 = folder / "day1.csv"
        day1.write_bytes(HEADER + b"\n".join(line for line, _ in VALUE_CASES.values()) + b"\n")
        ingest_interactions(day1, DS, lake=lake, warehouse_target=settings.warehouse)
        day2 = folder / "day2.csv"
        day2.write_bytes(
            HEADER + b"112,10,100,view,2026-11-20T10:00:00Z\n200,10,100,click,2026-11-21T09:00:00Z\n"
        )
        ingest_interactions(day2, "2026-11-21", lake=lake, warehouse_target=settings.warehouse)
        run_dbt(settings, folder, "run", "--select", "staging.interactions")
        with psycopg.connect(settings.warehouse.conninfo()) as conn:
            rejected = conn.execute(
                "select interaction_id, _ds::text, rejection_reason from staging.stg_interactions__user_interaction_rejects"
            ).fetchall()
            kept = conn.execute(
                "select interaction_id, action, interacted_at::text from staging.stg_interactions__user_interactions"
            ).fetchall()
            raw = conn.execute("select count(*) from raw.user_interactions").fetchone()[0]
        yield settings, {"rejected": rejected, "kept": kept, "raw": raw}


@pytest.mark.dbt
@pytest.mark.parametrize("case", sorted(k for k, (_, r) in VALUE_CASES.items() if r and not k.endswith("b")))
def test_a_bad_value_is_quarantined_in_staging_with_its_reason(staged, case: str) -> None:
    _, facts = staged
    assert (case, DS, VALUE_CASES[case][1]) in facts["rejected"]


@pytest.mark.dbt
def test_a_duplicate_id_within_a_file_and_across_files_is_kept_once(staged) -> None:
    _, facts = staged
    duplicates = sorted(
        (iid, ds) for iid, ds, reason in facts["rejected"] if reason == "duplicate interaction_id"
    )
    assert duplicates == [("112", DS), ("112", "2026-11-21")]
    assert [row for row in facts["kept"] if row[0] == 112] == [(112, "view", "2026-11-20 10:00:00")]


@pytest.mark.dbt
def test_timestamps_with_offsets_or_none_are_kept_in_utc_and_an_empty_action_is_unknown(staged) -> None:
    _, facts = staged
    kept = {iid: (action, ts) for iid, action, ts in facts["kept"]}
    assert kept[110] == ("view", "2026-11-20 10:00:00")
    assert kept[111] == ("view", "2026-11-20 10:00:00")
    assert kept[114] == ("unknown", "2026-11-20 10:00:00")


@pytest.mark.dbt
def test_every_raw_row_is_staged_or_rejected(staged) -> None:
    _, facts = staged
    assert facts["raw"] == len(facts["kept"]) + len(facts["rejected"]) == len(VALUE_CASES) + 2


def test_one_kind_of_fault_is_one_bucket_whatever_its_byte_offset(
    settings: Settings, wh, tmp_path: Path
) -> None:
    lines = [GOOD.replace(b"1,", b"%d," % i, 1) for i in range(1, 30)]
    bad = [
        b"40,10,100,vi\xe9w,2026-11-20T10:00:00Z\n",
        b"41,10,100,view,2026-11-2\xff\n",
        b"42,1\xfe,1,a,b\n",
    ]
    result = ingest(settings, HEADER + b"".join(lines + bad) + b"43,10,100\n", tmp_path)
    assert dict(result.rejects_by_reason) == {"invalid UTF-8": 3, "wrong field count": 1}
    manifest = json.loads((Lake.from_url(settings.lake_url).local_path(DAY) / "_manifest.json").read_text())
    assert manifest["rejects"]["by_reason"] == {"invalid UTF-8": 3, "wrong field count": 1}
    # each reject row keeps its detail
    assert {r for _, r in reasons(wh)} == {
        "invalid UTF-8 at byte 13", "invalid UTF-8 at byte 25", "invalid UTF-8 at byte 5",
        "wrong field count: 3 fields, expected 5",
    }  # fmt: skip
