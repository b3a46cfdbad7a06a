"""The interactions loader against a real PostgreSQL: counts, idempotency, rejects, errors."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from loaders.config import Settings
from loaders.errors import BadInputError, UnreachableError
from loaders.interactions import ingest_interactions
from loaders.lake import Lake
from loaders.sample_data import write_interactions_csv
from tests.conftest import PROJECT_DIR, env_for, free_port
from tests.reference import expected_from_csv

DS = "2026-11-20"
HEADER = "interaction_id,user_id,product_id,action,timestamp\n"


def ingest(settings: Settings, path: Path, ds: str = DS, **kwargs: object):
    return ingest_interactions(
        path, ds, lake=Lake.from_url(settings.lake_url), warehouse_target=settings.warehouse, **kwargs
    )


def raw_rows(wh: psycopg.Connection, ds: str = DS) -> list[tuple]:
    return wh.execute(
        'select interaction_id, user_id, product_id, action, "timestamp" from raw.user_interactions '
        'where _ds = %s order by interaction_id, user_id, product_id, action, "timestamp"',
        (ds,),
    ).fetchall()


def test_a_generated_day_loads_every_structurally_sound_line(settings: Settings, wh, tmp_path: Path) -> None:
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=30_000).path
    expected = expected_from_csv(path)

    result = ingest(settings, path)

    assert result.rows_read == expected.lines_read == 30_000
    assert result.rows_rejected == len(expected.structural_rejects) > 0
    assert result.rows_loaded == len(expected.structurally_valid)
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    # the raw table holds the delivered values (unquoted, empty -> null), nothing else
    as_loaded = sorted(tuple(v if v != "" else None for v in row) for row in expected.structurally_valid)
    assert sorted(raw_rows(wh), key=lambda r: tuple("" if v is None else v for v in r)) == sorted(
        as_loaded, key=lambda r: tuple("" if v is None else v for v in r)
    )
    lineage = wh.execute(
        "select count(distinct _load_id), min(_source_file), count(*) filter (where _loaded_at is null) "
        "from raw.user_interactions"
    ).fetchone()
    assert lineage == (1, str(path.resolve()), 0)


def test_lineage_every_row_shares_is_stored_once_for_the_day_not_in_each_row(
    settings: Settings, wh, tmp_path: Path
) -> None:
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=2_000).path
    result = ingest(settings, path)
    stored_once = wh.execute(
        "select attname from pg_attribute where attrelid = 'raw.user_interactions__20261120'::regclass "
        "and atthasmissing order by attnum"
    ).fetchall()
    assert stored_once == [("_source_file",), ("_load_id",), ("_loaded_at",)]
    # ...and every row reads it, through the parent as through the partition
    for relation in ("raw.user_interactions", "raw.user_interactions__20261120"):
        rows = wh.execute(
            f"select _source_file, _load_id, count(*), count(_loaded_at) from {relation} group by 1, 2"
        ).fetchall()
        assert rows == [(str(path.resolve()), result.load_id, result.rows_loaded, result.rows_loaded)]


def test_broken_lines_are_quarantined_with_line_number_raw_text_and_reason(
    settings: Settings, wh, tmp_path: Path
) -> None:
    path = tmp_path / "day.csv"
    path.write_bytes(
        (HEADER + "1,10,100,view,2026-11-20T10:00:00Z\n"
         "2,10,100,view\n"
         '3,10,100,"view,2026-11-20T10:00:00Z\n'
         "4,10,100,click,2026-11-20T10:00:00Z\n").encode()
        + b"5,10,100,cl\xffick,2026-11-20T10:00:00Z\n"
    )  # fmt: skip
    result = ingest(settings, path)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 2, 3)
    rejects = wh.execute(
        "select line_number, raw_line, reason from raw.user_interactions_rejects order by 1"
    ).fetchall()
    assert rejects == [
        (3, "2,10,100,view", "wrong field count: 4 fields, expected 5"),
        (4, '3,10,100,"view,2026-11-20T10:00:00Z', "unbalanced or stray quotes"),
        (6, "5,10,100,cl\\xffick,2026-11-20T10:00:00Z", "invalid UTF-8 at byte 12"),
    ]
    audit = wh.execute("select rows_read, rows_loaded, rows_rejected from raw.load_audit").fetchall()
    assert audit == [(5, 2, 3)]


def test_values_that_copy_text_format_treats_specially_land_verbatim(
    settings: Settings, wh, tmp_path: Path
) -> None:
    # rows go to the server in COPY's text format: backslashes, \N, \., tabs, delimiters inside
    # quotes and empty fields must come out as the CSV delivered them (empty, quoted or not: null)
    lines = [
        "1,10,100,view,2026-11-20T10:00:00Z",
        "2,\\N,100,\\.,2026-11-20T10:00:00Z",
        '3,"a,b","say ""hi""",back\\slash,"\\,"',
        '4,,"",tab\there,caf\u00e9',
        '5,"line\\nnot a break",100,"",x',
    ]
    path = tmp_path / "day.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    result = ingest(settings, path)
    assert (result.rows_loaded, result.rows_rejected) == (5, 0)
    expected = [tuple(v if v != "" else None for v in row) for row in csv.reader(lines)]
    assert raw_rows(wh) == sorted(expected, key=lambda r: r[0])


def test_loading_a_day_twice_leaves_one_copy(settings: Settings, wh, tmp_path: Path) -> None:
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=5_000).path
    first = ingest(settings, path)
    before = raw_rows(wh)
    second = ingest(settings, path)
    assert raw_rows(wh) == before
    assert len(before) == first.rows_loaded == second.rows_loaded
    assert wh.execute("select count(*) from raw.user_interactions_rejects").fetchone() == (
        first.rows_rejected,
    )
    assert wh.execute("select count(distinct _load_id) from raw.user_interactions").fetchone() == (1,)
    assert wh.execute("select count(*) from raw.load_audit").fetchone() == (2,)


def test_loading_one_day_leaves_the_other_days_alone(settings: Settings, wh, tmp_path: Path) -> None:
    day1 = write_interactions_csv(tmp_path / "a.csv", "2026-11-19", rows=1_000).path
    day2 = write_interactions_csv(tmp_path / "b.csv", "2026-11-20", rows=2_000).path
    r1 = ingest(settings, day1, "2026-11-19")
    ingest(settings, day2, "2026-11-20")
    ingest(settings, day2, "2026-11-20")
    counts = dict(wh.execute("select _ds::text, count(*) from raw.user_interactions group by 1").fetchall())
    assert counts["2026-11-19"] == r1.rows_loaded
    assert set(counts) == {"2026-11-19", "2026-11-20"}


def test_the_lake_day_has_the_valid_rows_the_rejects_and_a_manifest_that_adds_up(
    settings: Settings, tmp_path: Path
) -> None:
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=3_000).path
    result = ingest(settings, path)
    day = Lake.from_url(settings.lake_url).local_path(f"raw/interactions/user_interactions/ds={DS}")
    manifest = json.loads((day / "_manifest.json").read_text())
    part = day / manifest["parts"][0]["key"]
    rows = list(csv.reader(io.StringIO(gzip.decompress(part.read_bytes()).decode())))
    assert rows[0] == ["interaction_id", "user_id", "product_id", "action", "timestamp"]
    assert len(rows) - 1 == manifest["parts"][0]["rows"] == result.rows_loaded
    assert hashlib.sha256(part.read_bytes()).hexdigest() == manifest["parts"][0]["sha256"]
    rejects = list(
        csv.DictReader(io.StringIO(gzip.decompress((day / manifest["rejects"]["key"]).read_bytes()).decode()))
    )
    assert len(rejects) == manifest["rejects"]["rows"] == result.rows_rejected
    assert manifest["rows_read"] == manifest["rows_valid"] + manifest["rows_rejected"]
    assert manifest["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    version = manifest["version"]
    assert sorted(p.name for p in day.iterdir() if not p.name.startswith(".")) == [
        "_manifest-" + version + ".json", "_manifest.json",
        f"part-00000-{version}.csv.gz", f"rejects-{version}.csv.gz",
    ]  # fmt: skip
    # names, emails and addresses at rest: readable by the owner only
    assert {oct(p.stat().st_mode & 0o777) for p in day.iterdir()} == {"0o600"}
    assert {oct(p.stat().st_mode & 0o777) for p in (day, day.parent, day.parent.parent)} == {"0o700"}


def test_a_second_landing_of_a_day_replaces_the_first_and_retires_its_files(
    settings: Settings, tmp_path: Path
) -> None:
    first = ingest(settings, write_interactions_csv(tmp_path / "a.csv", DS, rows=500).path)
    day = Lake.from_url(settings.lake_url).local_path(f"raw/interactions/user_interactions/ds={DS}")
    v1 = json.loads((day / "_manifest.json").read_text())["version"]
    second = ingest(settings, write_interactions_csv(tmp_path / "b.csv", DS, rows=600, seed=7).path)
    manifest = json.loads((day / "_manifest.json").read_text())
    assert manifest["version"] > v1
    assert manifest["rows_valid"] == second.rows_loaded != first.rows_loaded
    # raw committed the new version, so nothing of the old one is kept
    assert not [p.name for p in day.iterdir() if v1 in p.name]


def test_crlf_line_endings_bom_and_a_missing_final_newline_are_read(
    settings: Settings, wh, tmp_path: Path
) -> None:
    path = tmp_path / "day.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + HEADER.replace("\n", "\r\n").encode()
        + b"1,10,100,view,2026-11-20T10:00:00Z\r\n2,11,101,click,2026-11-20T11:00:00Z"
    )  # fmt: skip
    result = ingest(settings, path)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (2, 2, 0)
    assert raw_rows(wh)[1] == ("2", "11", "101", "click", "2026-11-20T11:00:00Z")


def test_columns_in_another_order_are_mapped_by_name(settings: Settings, wh, tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text(
        "timestamp,action,product_id,user_id,interaction_id\n2026-11-20T10:00:00Z,view,100,10,1\n"
    )
    ingest(settings, path)
    assert raw_rows(wh) == [("1", "10", "100", "view", "2026-11-20T10:00:00Z")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"id,user,product,action,ts\n1,2,3,view,2026-11-20T10:00:00Z\n", "missing interaction_id"),
        (b"interaction_id,user_id,product_id,action\n1,2,3,view\n", "missing timestamp"),
        (b"interaction_id,user_id,product_id,action,timestamp,extra\n", "unexpected extra"),
    ],
)
def test_an_unreadable_file_is_refused_and_the_warehouse_is_unchanged(
    settings: Settings, wh, tmp_path: Path, content: bytes, message: str
) -> None:
    good = write_interactions_csv(tmp_path / "good.csv", DS, rows=500).path
    ingest(settings, good)
    before = raw_rows(wh)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(BadInputError, match=message):
        ingest(settings, bad)
    assert raw_rows(wh) == before
    assert wh.execute("select count(*) from raw.load_audit").fetchone() == (1,)


def test_a_file_that_is_mostly_broken_is_refused_and_nothing_changes(
    settings: Settings, wh, tmp_path: Path
) -> None:
    good = write_interactions_csv(tmp_path / "good.csv", DS, rows=500).path
    ingest(settings, good)
    before = raw_rows(wh)
    manifest = Lake.from_url(settings.lake_url).local_path(
        f"raw/interactions/user_interactions/ds={DS}/_manifest.json"
    )
    lake_before = manifest.read_text()
    bad = tmp_path / "semicolons.csv"
    bad.write_text(HEADER + "".join(f"{i};10;100;view;2026-11-20T10:00:00Z\n" for i in range(200)))
    with pytest.raises(BadInputError, match="200 of 200 lines are broken"):
        ingest(settings, bad)
    assert raw_rows(wh) == before
    assert manifest.read_text() == lake_before


def test_an_unreachable_warehouse_is_one_clear_error(settings: Settings, tmp_path: Path) -> None:
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=10).path
    nowhere = settings.with_overrides(warehouse=replace(settings.warehouse, port=free_port()))
    with pytest.raises(UnreachableError, match="cannot reach the warehouse database"):
        ingest(nowhere, path)


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loaders", *args],
        env=env_for(settings),
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        timeout=120,
    )


def test_the_command_line_loads_a_file_and_reports_counts(settings: Settings, wh, tmp_path: Path) -> None:
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=2_000).path
    result = run_cli(settings, "interactions", "--file", str(path), "--ds", DS)
    assert result.returncode == 0, result.stderr
    expected = expected_from_csv(path)
    assert f"{expected.lines_read:,} rows read, {len(expected.structurally_valid):,} loaded" in result.stdout
    assert "rows/s" in result.stderr  # progress and rate are logged
    assert wh.execute("select count(*) from raw.user_interactions").fetchone() == (
        len(expected.structurally_valid),
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["interactions", "--file", "/nonexistent/day.csv", "--ds", DS], "no such file"),
        (["interactions", "--file", "{header}", "--ds", DS], "header is"),
        (["interactions", "--file", "{good}", "--ds", "20-11-2026"], "is not a day"),
        (["interactions", "--file", "{good}", "--ds", DS, "--unreachable"], "cannot reach the warehouse"),
    ],
)
def test_command_line_errors_are_one_line_and_a_non_zero_exit(
    settings: Settings, tmp_path: Path, args: list[str], message: str
) -> None:
    good = write_interactions_csv(tmp_path / "good.csv", DS, rows=10).path
    header = tmp_path / "header.csv"
    header.write_text("a,b,c\n1,2,3\n")
    args = [a.format(good=good, header=header) for a in args]
    if "--unreachable" in args:
        args.remove("--unreachable")
        settings = settings.with_overrides(warehouse=replace(settings.warehouse, port=free_port()))
    result = run_cli(settings, *args)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_summary_shows_where_the_warehouse_is_but_not_its_password(
    settings: Settings, wh, tmp_path: Path
) -> None:
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=200).path
    assert run_cli(settings, "interactions", "--file", str(path), "--ds", DS).returncode == 0
    result = run_cli(settings, "summary", "--ds", DS)
    assert result.returncode == 0, result.stderr
    assert settings.warehouse.password and settings.warehouse.password not in result.stdout + result.stderr
    assert settings.warehouse.url(with_password=False) in result.stdout


def test_what_dead_writers_left_is_swept_by_the_next_write_once_old(
    settings: Settings, tmp_path: Path
) -> None:
    ingest(settings, write_interactions_csv(tmp_path / "a.csv", DS, rows=300).path)
    day = Lake.from_url(settings.lake_url).local_path(f"raw/interactions/user_interactions/ds={DS}")
    old_tmp = day.parent / f".{day.name}.1a2b3c4d.tmp"  # a staging folder from before versions
    young_tmp = day.parent / f".{day.name}.5e6f7a8b.tmp"
    orphan = day / "part-00000-20200101T000000000000Z-abcdef.csv.gz"  # a version never published
    for folder in (old_tmp, young_tmp):
        folder.mkdir()
        (folder / "part-00000.csv.gz").write_bytes(b"x")
    orphan.write_bytes(b"x")
    hours_ago = time.time() - 7200
    os.utime(old_tmp, (hours_ago, hours_ago))
    ingest(settings, write_interactions_csv(tmp_path / "b.csv", DS, rows=300, seed=3).path)
    assert not old_tmp.exists() and not orphan.exists()
    assert young_tmp.exists()  # maybe another writer's, at work right now


def test_a_part_whose_header_is_not_the_manifests_columns_is_not_loaded(
    settings: Settings, wh, tmp_path: Path
) -> None:
    """The checksum only proves the part is the one the manifest lists; the header proves its
    columns are the ones it names (a part with its columns swapped would load shifted values)."""
    from loaders.errors import LoaderError
    from loaders.load import load_day

    ingest(settings, write_interactions_csv(tmp_path / "a.csv", DS, rows=200).path)
    lake = Lake.from_url(settings.lake_url)
    prefix = f"raw/interactions/user_interactions/ds={DS}"
    manifest = json.loads(lake.local_path(f"{prefix}/_manifest.json").read_text())
    part = lake.local_path(f"{prefix}/{manifest['parts'][0]['key']}")
    lines = gzip.decompress(part.read_bytes()).split(b"\n", 1)
    swapped = gzip.compress(b"user_id,interaction_id,product_id,action,timestamp\n" + lines[1])
    part.write_bytes(swapped)
    manifest["parts"][0].update(sha256=hashlib.sha256(swapped).hexdigest(), bytes=len(swapped))
    lake.local_path(f"{prefix}/_manifest.json").write_text(json.dumps(manifest))
    before = wh.execute("select count(*), max(load_id) from raw.load_audit").fetchone()
    with pytest.raises(LoaderError, match="header"):
        load_day(lake, settings.warehouse, "interactions", "user_interactions", DS)
    assert wh.execute("select count(*), max(load_id) from raw.load_audit").fetchone() == before
