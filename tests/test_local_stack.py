"""The embedded local PostgreSQL: reused when running, refuses a second port, provisioned."""

from __future__ import annotations

import psycopg
import pytest

from loaders import local_stack
from loaders.config import Settings
from loaders.errors import LoaderError


def test_starting_a_running_stack_reuses_it(pg_settings: Settings) -> None:
    before = local_stack.status(pg_settings)
    again = local_stack.up(pg_settings)
    assert before.running
    assert again.pid == before.pid


def test_it_listens_on_loopback_tcp_with_both_databases_and_a_password(pg_settings: Settings) -> None:
    for target in (pg_settings.shop, pg_settings.warehouse):
        with psycopg.connect(target.conninfo()) as conn:
            assert conn.execute("select inet_server_addr()::text").fetchone() == ("127.0.0.1/32",)
            assert conn.execute("select current_database()").fetchone() == (target.dbname,)
    wrong = pg_settings.warehouse.conninfo().replace("password=local-only-password", "password=wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)


def test_asking_for_another_port_while_running_is_a_clear_error(pg_settings: Settings) -> None:
    other = pg_settings.with_overrides(local_pg_port=pg_settings.local_pg_port + 1)
    with pytest.raises(LoaderError, match="already runs on port"):
        local_stack.up(other)
