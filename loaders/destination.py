"""Where a landed day goes, decided in one place: ``WAREHOUSE_KIND``.

* ``postgres`` (the local default): the interactions file is loaded in the same pass as the
  lake (``interactions.ingest_interactions`` with ``one_pass_target``), and the shop extracts
  are loaded from the lake by ``load.load_day``.
* ``redshift``: everything is landed in the lake first and loaded with ``COPY ... FROM
  's3://...'`` by ``redshift.load_day_redshift``, over a connection the caller may supply (the
  Amazon provider's hook inside Airflow) or ``redshift_connector`` with ``WAREHOUSE_*``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from loaders.config import PostgresTarget, Settings
from loaders.errors import LoaderError
from loaders.lake import Lake
from loaders.results import LoadResult

if TYPE_CHECKING:
    from redshift_connector.core import Connection as RedshiftConnection


def one_pass_target(settings: Settings) -> PostgresTarget | None:
    """The PostgreSQL an ingest loads while it lands the file; None when the day must go through
    the lake first (Redshift: then ``load_landed_day``)."""
    return settings.warehouse if settings.warehouse_kind == "postgres" else None


def load_landed_day(
    settings: Settings,
    lake: Lake,
    source: str,
    table: str,
    ds: str,
    *,
    redshift_connect: Callable[[], RedshiftConnection] | None = None,
) -> LoadResult:
    """Load the day the lake has published into the warehouse's raw schema."""
    if settings.warehouse_kind != "redshift":
        from loaders.load import load_day

        return load_day(lake, settings.warehouse, source, table, ds, raw_schema=settings.raw_schema)
    if not settings.redshift_iam_role:
        raise LoaderError(
            "WAREHOUSE_KIND=redshift needs REDSHIFT_IAM_ROLE (the role Redshift assumes to read S3)"
        )
    from loaders.redshift import RedshiftCopyOptions, load_day_redshift

    conn = (redshift_connect or (lambda: connect_redshift(settings.warehouse)))()
    try:
        options = RedshiftCopyOptions(settings.redshift_iam_role, settings.redshift_copy_region)
        return load_day_redshift(conn, lake, source, table, ds, options=options, schema=settings.raw_schema)
    finally:
        conn.close()


def connect_redshift(target: PostgresTarget) -> RedshiftConnection:
    """A ``redshift_connector`` connection from ``WAREHOUSE_*`` (outside Airflow)."""
    import redshift_connector

    try:
        return redshift_connector.connect(
            host=target.host, port=target.port, user=target.user, password=target.password,
            database=target.dbname, timeout=30,
        )  # fmt: skip
    except Exception as err:
        raise LoaderError(
            f"cannot reach Redshift at {target.describe()} ({err}); check WAREHOUSE_*"
        ) from None
