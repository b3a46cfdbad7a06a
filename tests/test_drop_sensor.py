"""Waiting for the day's interactions file: the drop (a folder or an S3 prefix) and the trigger
that polls it, against a real filesystem and a real S3 API (moto's server)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from loaders.drop import Drop
from loaders.interactions import ingest_interactions
from loaders.lake import Lake
from loaders.sample_data import write_interactions_csv

DS = "2026-11-20"


@pytest.fixture(autouse=True)
def airflow_imported() -> None:
    import orchestration.triggers  # noqa: F401  (importing Airflow takes seconds: not in the timings)


def run_trigger(**kwargs: object) -> tuple[dict, float]:
    """The trigger's first event, and how long it took (as the triggerer would run it)."""
    from orchestration.triggers import InteractionsDropTrigger

    trigger = InteractionsDropTrigger(ds=DS, **kwargs)  # type: ignore[arg-type]
    classpath, serialized = trigger.serialize()
    assert classpath == "orchestration.triggers.InteractionsDropTrigger"
    assert InteractionsDropTrigger(**serialized).serialize() == (classpath, serialized)

    async def first_event() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    start = time.monotonic()
    return asyncio.run(first_event()), time.monotonic() - start


def later(seconds: float, action) -> threading.Thread:
    def act() -> None:
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


def test_a_local_file_is_ready_once_it_has_stopped_changing(tmp_path: Path) -> None:
    drop = Drop(tmp_path.as_uri())
    assert drop.find(DS) is None and drop.ready(DS) is None
    path = tmp_path / f"user_interactions_{DS}.csv"
    path.write_text("interaction_id,user_id,product_id,action,timestamp\n")
    now = time.time()
    assert drop.find(DS) is not None
    assert drop.ready(DS, settle_seconds=30, now=now) is None  # just written: may still grow
    info = drop.ready(DS, settle_seconds=30, now=now + 31)
    assert info is not None and info.uri == path.as_uri() and info.size == path.stat().st_size
    assert drop.source(DS) == path
    (tmp_path / f"user_interactions_{DS}.csv.tmp").write_text("x")  # another name: not the day's file
    os.utime(path, (now - 60, now - 60))
    assert drop.ready(DS, settle_seconds=30).size == info.size


def test_the_trigger_fires_when_a_late_file_lands_in_the_folder(tmp_path: Path) -> None:
    target = tmp_path / f"user_interactions_{DS}.csv"
    writer = later(1.5, lambda: write_interactions_csv(target, DS, rows=50))

    event, seconds = run_trigger(
        drop_url=tmp_path.as_uri(), deadline=time.time() + 60, poke_interval=0.5, settle_seconds=1.0
    )
    writer.join()

    assert event == {"status": "ready", "uri": target.as_uri(), "size": target.stat().st_size}
    assert 2.5 <= seconds < 10  # written after 1.5 s, then unchanged for 1 s


def test_the_trigger_gives_up_at_its_deadline_with_the_path_it_waited_for(tmp_path: Path) -> None:
    event, seconds = run_trigger(
        drop_url=tmp_path.as_uri(), deadline=time.time() + 2, poke_interval=0.5, settle_seconds=0
    )
    assert event["status"] == "timeout"
    assert event["uri"] == (tmp_path / f"user_interactions_{DS}.csv").as_uri()
    assert event["waited_seconds"] >= 1.9 and seconds < 5


def test_the_trigger_waits_for_an_s3_key_and_the_loader_reads_the_object(
    settings, s3_client, s3_bucket: str, tmp_path: Path, wh
) -> None:
    local = write_interactions_csv(tmp_path / "day.csv", DS, rows=2_000).path
    drop_url = f"s3://{s3_bucket}/drop/interactions"
    key = f"drop/interactions/user_interactions_{DS}.csv"
    uploader = later(1.5, lambda: s3_client.upload_file(str(local), s3_bucket, key))

    event, seconds = run_trigger(drop_url=drop_url, deadline=time.time() + 60, poke_interval=0.5)
    uploader.join()

    assert event == {"status": "ready", "uri": f"s3://{s3_bucket}/{key}", "size": local.stat().st_size}
    assert 1.5 <= seconds < 10
    source = Drop(drop_url).source(DS)
    assert source == f"s3://{s3_bucket}/{key}"
    from_s3 = ingest_interactions(
        source,
        DS,
        lake=Lake.from_url(settings.lake_url),
        warehouse_target=settings.warehouse,
        s3_client=s3_client,
    )
    from_file = ingest_interactions(
        local, "2026-11-21", lake=Lake.from_url(settings.lake_url), warehouse_target=settings.warehouse
    )
    assert (from_s3.rows_read, from_s3.rows_loaded, from_s3.rows_rejected) == (
        from_file.rows_read, from_file.rows_loaded, from_file.rows_rejected,
    )  # fmt: skip
    assert from_s3.source_file == source and from_s3.source_sha256 == from_file.source_sha256
    assert wh.execute("select count(*) from raw.user_interactions where _ds = %s", (DS,)).fetchone()[0] == (
        from_s3.rows_loaded
    )


def test_a_missing_s3_object_is_a_clear_error(settings, s3_client, s3_bucket: str) -> None:
    from loaders.errors import BadInputError

    with pytest.raises(BadInputError, match=r"s3://.*user_interactions_2026-11-20\.csv: no such object"):
        ingest_interactions(
            Drop(f"s3://{s3_bucket}/drop").source(DS), DS, lake=Lake.from_url(settings.lake_url),
            warehouse_target=settings.warehouse, s3_client=s3_client,
        )  # fmt: skip
