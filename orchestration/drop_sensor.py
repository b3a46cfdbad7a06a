"""Wait for the day's interactions file in the drop (a folder or an S3 prefix), deferred.

``InteractionsDropSensor`` checks once when it starts; if the file is not there yet it defers
to ``InteractionsDropTrigger``, which polls in the triggerer (no worker slot is held) until the
file is ready or the deadline passes. The trigger enforces the deadline itself, so the wait
ends on time under ``airflow dags test`` too (which runs triggers inline and ignores the
deferral's timeout). A missing file after the deadline fails the task with the path and what
to do; a file that arrives in time lets the run go on as if it had been there all along.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from orchestration.drop_check import check_drop

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


def _clear_hint(dag_id: str, task_id: str, ds: str) -> str:
    return f"airflow tasks clear {dag_id} -t '{task_id}' -s {ds} -e {ds} -y"


class InteractionsDropSensor(BaseSensorOperator):
    """Succeeds once ``user_interactions_<ds>.csv`` is ready in the drop; returns its URI.

    :param drop_url: ``file:///folder`` or ``s3://bucket/prefix`` (templated; None: the
        loaders' setting, ``INTERACTIONS_DROP_URL`` / ``INTERACTIONS_DROP_DIR``)
    :param settle_seconds: a local file must be unchanged this long (S3 objects appear whole)
    :param aws_conn_id: the AWS connection for an S3 drop (None: boto3's own credentials)
    """

    template_fields = ("drop_url",)

    def __init__(
        self,
        *,
        drop_url: str | None = None,
        settle_seconds: float = 5.0,
        aws_conn_id: str | None = None,
        poke_interval: float = 30.0,
        timeout: float = 6 * 3600,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.drop_url = drop_url
        self.settle_seconds = settle_seconds
        self.aws_conn_id = aws_conn_id

    def _drop_url(self) -> str:
        if self.drop_url:
            return self.drop_url
        from loaders.config import Settings

        return Settings.from_env().drop_url

    def poke(self, context: Context) -> bool:  # the non-deferred path of BaseSensorOperator
        return check_drop(self._drop_url(), context["ds"], self.settle_seconds, self.aws_conn_id)["ready"]

    def execute(self, context: Context) -> str:
        ds = context["ds"]
        drop_url = self._drop_url()
        found = check_drop(drop_url, ds, self.settle_seconds, self.aws_conn_id)
        if found["ready"]:
            log.info(
                "the day's interactions file is ready: %s (%s bytes)", found["uri"], f"{found['size']:,}"
            )
            return found["uri"]
        from orchestration.triggers import InteractionsDropTrigger

        log.info(
            "waiting up to %.0f min for %s/user_interactions_%s.csv (checking every %.0f s)",
            self.timeout / 60, drop_url, ds, self.poke_interval,
        )  # fmt: skip
        self.defer(
            trigger=InteractionsDropTrigger(
                drop_url=drop_url,
                ds=ds,
                deadline=time.time() + float(self.timeout),
                poke_interval=float(self.poke_interval),
                settle_seconds=self.settle_seconds,
                aws_conn_id=self.aws_conn_id,
            ),
            method_name="execute_complete",
        )
        raise AssertionError("unreachable: defer() raises")  # pragma: no cover

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

        ds = context["ds"]
        if event.get("status") == "ready":
            log.info("the day's interactions file arrived: %s (%s bytes)", event["uri"], f"{event['size']:,}")
            return str(event["uri"])
        hint = _clear_hint(context["ti"].dag_id, context["ti"].task_id, ds)
        if event.get("status") == "timeout":
            raise AirflowSensorTimeout(
                f"no interactions file for {ds} at {event['uri']} after {event['waited_seconds'] / 60:.0f} min: "
                f"drop the day's CSV there (write it under another name, then rename it), then run `{hint}`"
            )
        raise AirflowException(
            f"checking the drop for {ds} failed: {event.get('message')}; fix the drop's address or access, "
            f"then run `{hint}`"
        )
