"""Triggers (run by the triggerer, or inline by ``airflow dags test``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from orchestration.drop_check import check_drop


class InteractionsDropTrigger(BaseTrigger):
    """Fires once the day's file is ready in the drop, or when ``deadline`` (epoch s) passes.

    Events: ``{"status": "ready", "uri", "size"}``, ``{"status": "timeout", "uri",
    "waited_seconds"}``, ``{"status": "error", "message"}`` (the drop could not be checked
    several times in a row).
    """

    MAX_ERRORS_IN_A_ROW = 5

    def __init__(
        self,
        *,
        drop_url: str,
        ds: str,
        deadline: float,
        poke_interval: float = 30.0,
        settle_seconds: float = 5.0,
        aws_conn_id: str | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger.__init__ is unannotated
        self.drop_url = drop_url
        self.ds = ds
        self.deadline = deadline
        self.poke_interval = poke_interval
        self.settle_seconds = settle_seconds
        self.aws_conn_id = aws_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "drop_url": self.drop_url,
                "ds": self.ds,
                "deadline": self.deadline,
                "poke_interval": self.poke_interval,
                "settle_seconds": self.settle_seconds,
                "aws_conn_id": self.aws_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from loaders.drop import Drop

        started = time.time()
        uri = Drop(self.drop_url).uri(self.ds)
        errors = 0
        while True:
            try:
                found = await asyncio.to_thread(
                    check_drop, self.drop_url, self.ds, self.settle_seconds, self.aws_conn_id
                )
                errors = 0
            except Exception as err:  # unreachable endpoint, access denied: retried, then reported
                errors += 1
                self.log.warning(
                    "checking %s failed (%s of %s): %s", uri, errors, self.MAX_ERRORS_IN_A_ROW, err
                )
                if errors >= self.MAX_ERRORS_IN_A_ROW:
                    yield TriggerEvent({"status": "error", "message": str(err).splitlines()[0][:500]})
                    return
                found = {"ready": False, "settles_in": None}
            if found["ready"]:
                yield TriggerEvent({"status": "ready", "uri": found["uri"], "size": found["size"]})
                return
            now = time.time()
            if now >= self.deadline:
                yield TriggerEvent({"status": "timeout", "uri": uri, "waited_seconds": now - started})
                return
            pause = min(self.poke_interval, found["settles_in"] or self.poke_interval, self.deadline - now)
            await asyncio.sleep(max(0.0, pause))
