"""Is the day's interactions file ready in the drop? The one check the sensor makes when it starts
and its trigger makes at every poll (orchestration.drop_sensor, orchestration.triggers)."""

from __future__ import annotations

import time
from typing import Required, TypedDict


class DropCheck(TypedDict, total=False):
    ready: Required[bool]
    uri: str  # ready: the file's URI and size in bytes
    size: int
    settles_in: float | None  # not ready: seconds until a changing file may be ready (None: no file)


def check_drop(drop_url: str, ds: str, settle_seconds: float, aws_conn_id: str | None) -> DropCheck:
    """``{"ready": True, "uri", "size"}`` once the day's file is ready, else ``{"ready": False,
    "settles_in": seconds or None}`` (None: no file yet)."""
    from loaders.drop import Drop

    client = None
    if drop_url.startswith("s3://") and aws_conn_id:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        client = S3Hook(aws_conn_id=aws_conn_id).get_conn()
    drop = Drop(drop_url, s3_client=client)
    now = time.time()
    info = drop.find(ds)
    if info is None:
        return {"ready": False, "settles_in": None}
    if drop.ready(ds, settle_seconds, now=now) is None:
        return {"ready": False, "settles_in": max(0.1, info.modified + settle_seconds - now)}
    return {"ready": True, "uri": info.uri, "size": info.size}
