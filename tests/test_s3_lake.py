"""The lake on S3, for real against moto's S3 server: land, replace, load, and failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loaders import lake as lake_module
from loaders.catalog import SHOP_TABLES
from loaders.config import Settings
from loaders.errors import LoaderError, UnreachableError
from loaders.interactions import ingest_interactions
from loaders.lake import ConcurrentWriteError, Lake, S3Lake
from loaders.load import load_day
from loaders.sample_data import ShopScale, generate_shop, write_interactions_csv
from loaders.shop import extract_table
from tests.conftest import BIN, free_port
from tests.reference import expected_from_csv

DS = "2026-11-20"
PREFIX = f"raw/interactions/user_interactions/ds={DS}"


def keys(client, bucket: str, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def test_a_day_lands_on_s3_and_loads_from_it_into_the_warehouse(
    settings: Settings, s3_client, s3_bucket, wh, tmp_path: Path
) -> None:
    lake = Lake.from_url(f"s3://{s3_bucket}/lake", s3_client=s3_client)
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=5_000).path
    expected = expected_from_csv(path)
    landed = ingest_interactions(path, DS, lake=lake, warehouse_target=None)
    assert landed.lake_uri == f"s3://{s3_bucket}/lake/{PREFIX}"
    objects = keys(s3_client, s3_bucket, "lake/" + PREFIX)
    assert len(objects) == 4  # the published manifest, the version's staged one, the part, the rejects
    manifest = json.loads(
        s3_client.get_object(Bucket=s3_bucket, Key=f"lake/{PREFIX}/_manifest.json")["Body"].read()
    )
    assert {
        f"lake/{PREFIX}/{manifest['parts'][0]['key']}",
        f"lake/{PREFIX}/{manifest['rejects']['key']}",
    } < set(objects)

    loaded = load_day(lake, settings.warehouse, "interactions", "user_interactions", DS)
    assert (loaded.rows_read, loaded.rows_loaded, loaded.rows_rejected) == (
        expected.lines_read, len(expected.structurally_valid), len(expected.structural_rejects),
    )  # fmt: skip
    assert wh.execute("select count(*) from raw.user_interactions").fetchone() == (
        len(expected.structurally_valid),
    )
    assert wh.execute("select count(*) from raw.user_interactions_rejects").fetchone() == (
        len(expected.structural_rejects),
    )


def test_landing_a_day_again_keeps_the_old_version_until_raw_holds_the_new_one(
    settings: Settings, s3_client, s3_bucket, tmp_path: Path
) -> None:
    lake = Lake.from_url(f"s3://{s3_bucket}", s3_client=s3_client)
    first = write_interactions_csv(tmp_path / "a.csv", DS, rows=1_000).path
    ingest_interactions(first, DS, lake=lake, warehouse_target=None)
    load_day(lake, settings.warehouse, "interactions", "user_interactions", DS)
    v1 = lake.read_manifest(PREFIX)["version"]
    second = write_interactions_csv(tmp_path / "b.csv", DS, rows=2_000, seed=7).path
    ingest_interactions(second, DS, lake=lake, warehouse_target=None)
    manifest = lake.read_manifest(PREFIX)
    assert manifest["rows_read"] == 2_000 and manifest["version"] > v1
    # raw still holds version 1: its objects stay until the new version is loaded
    assert len([k for k in keys(s3_client, s3_bucket) if v1 in k]) == 3
    load_day(lake, settings.warehouse, "interactions", "user_interactions", DS)
    after = keys(s3_client, s3_bucket)
    assert not [k for k in after if v1 in k]
    assert len(after) == 4


def test_large_objects_stream_up_in_parts(s3_client, s3_bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lake_module, "S3_PART_SIZE", 5 << 20)
    lake = Lake.from_url(f"s3://{s3_bucket}", s3_client=s3_client)
    payload = os.urandom(12 << 20)
    with lake.write_day("raw/test/blob/ds=2026-11-20") as day:
        writer = day.open("part-00000.bin")
        for start in range(0, len(payload), 1 << 20):
            writer.write(payload[start : start + (1 << 20)])
        assert writer._upload_id is not None  # a multipart upload is under way, not one PUT
        writer.close()
        day.stage_manifest({"parts": [day.object_name("part-00000.bin")]})
    name = lake.read_manifest("raw/test/blob/ds=2026-11-20")["parts"][0]
    body = s3_client.get_object(Bucket=s3_bucket, Key=f"raw/test/blob/ds=2026-11-20/{name}")["Body"].read()
    assert body == payload


def test_shop_tables_extract_to_s3_and_load(settings: Settings, s3_client, s3_bucket, wh) -> None:
    shop = settings.shop
    counts = generate_shop(shop, DS, ShopScale(customers=300, products=40, orders_per_day=30, days=5))
    lake = Lake.from_url(f"s3://{s3_bucket}/warehouse-lake", s3_client=s3_client)
    for name in SHOP_TABLES:
        extract_table(shop, lake, SHOP_TABLES[name], DS, full=True)
        load_day(lake, settings.warehouse, "shop", name, DS)
    got = {n: wh.execute(f"select count(*) from raw.{n}").fetchone()[0] for n in SHOP_TABLES}
    assert got == {
        "customers": counts.customers,
        "products": counts.products,
        "orders": counts.orders,
        "sales": counts.sales,
    }


def test_a_missing_bucket_is_a_clear_error(s3_client, tmp_path: Path) -> None:
    lake = Lake.from_url("s3://no-such-bucket-here", s3_client=s3_client)
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=10).path
    with pytest.raises(LoaderError, match="the bucket does not exist"):
        ingest_interactions(path, DS, lake=lake, warehouse_target=None)


def test_an_unreachable_s3_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name="us-east-1",
        aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2),
    )  # fmt: skip
    lake = S3Lake("bucket", "", client)
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=10).path
    with pytest.raises(UnreachableError, match="cannot reach S3"):
        ingest_interactions(path, DS, lake=lake, warehouse_target=None)


@pytest.fixture
def s3_with_auth(tmp_path: Path):
    """A second moto server that checks credentials (every request must be signed by a known key)."""
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        import urllib.request

        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_s3_access_denied_is_a_clear_error_and_the_warehouse_is_unchanged(
    settings: Settings, s3_with_auth: str, wh, tmp_path: Path
) -> None:
    import boto3

    client = boto3.client(
        "s3", endpoint_url=s3_with_auth, region_name="us-east-1",
        aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key="not-a-real-secret",
    )  # fmt: skip
    lake = S3Lake("any-bucket", "", client)
    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=50).path
    with pytest.raises(LoaderError, match="denied"):
        ingest_interactions(path, DS, lake=lake, warehouse_target=settings.warehouse)
    assert wh.execute("select to_regclass('raw.user_interactions__20261120')").fetchone() == (None,)


def test_the_command_line_lands_on_s3_with_credentials_from_the_environment(
    settings: Settings, s3_client, s3_bucket, tmp_path: Path
) -> None:
    from tests.conftest import PROJECT_DIR, env_for

    path = write_interactions_csv(tmp_path / "day.csv", DS, rows=100).path
    env = env_for(
        settings,
        LAKE_URL=f"s3://{s3_bucket}/cli",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL_S3=os.environ["AWS_ENDPOINT_URL_S3"],
    )
    result = subprocess.run(
        [sys.executable, "-m", "loaders", "interactions", "--file", str(path), "--ds", DS, "--no-warehouse"],
        env=env, capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"s3://{s3_bucket}/cli/{PREFIX}" in result.stdout
    assert len(keys(s3_client, s3_bucket, "cli/")) == 4  # manifest, staged manifest, part, rejects


def test_a_write_of_a_day_aborts_the_multipart_uploads_a_dead_writer_left(
    s3_client, s3_bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake.from_url(f"s3://{s3_bucket}", s3_client=s3_client)
    left = s3_client.create_multipart_upload(Bucket=s3_bucket, Key=f"{PREFIX}/part-00000-dead.csv.gz")
    monkeypatch.setattr(lake_module, "ABANDONED_AFTER_SECONDS", -1)  # every upload counts as old
    ingest_interactions(
        write_interactions_csv(tmp_path / "a.csv", DS, rows=200).path, DS, lake=lake, warehouse_target=None
    )
    uploads = s3_client.list_multipart_uploads(Bucket=s3_bucket, Prefix=PREFIX).get("Uploads", [])
    assert left["UploadId"] not in [u["UploadId"] for u in uploads]


def test_a_writer_whose_version_a_newer_writer_retired_is_told_another_writer_won(
    s3_client, s3_bucket
) -> None:
    """Two writers of a day at once: the newer publishes and retires the older versions, the
    older one's staged objects among them; the older then fails with the concurrent-writer line
    (not "missing"), and the day is the newer's, whole."""
    lake = Lake.from_url(f"s3://{s3_bucket}", s3_client=s3_client)
    prefix = "raw/test/race/ds=2026-11-20"

    def write(day, payload: bytes) -> None:
        part = day.open("part-00000.bin")
        part.write(payload)
        part.close()
        day.stage_manifest({"parts": [day.object_name("part-00000.bin")]})

    versions: dict[str, str] = {}

    def older_writer_overtaken() -> None:
        with lake.write_day(prefix) as older:
            versions["older"] = older.version
            write(older, b"older")
            with lake.write_day(prefix) as newer:
                versions["newer"] = newer.version
                write(newer, b"newer")
            assert newer.version > older.version
            lake.retire(prefix, newer.version)  # as the newer writer does once it is in raw

    with pytest.raises(ConcurrentWriteError, match="published by another writer"):
        older_writer_overtaken()
    assert lake.published(prefix).version == versions["newer"]
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix=prefix)["Contents"]]
    assert not [k for k in keys if versions["older"] in k]
    name = lake.read_manifest(prefix)["parts"][0]
    assert s3_client.get_object(Bucket=s3_bucket, Key=f"{prefix}/{name}")["Body"].read() == b"newer"
