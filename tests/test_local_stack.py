"""The embedded local PostgreSQL: reused when running, refuses a second port, provisioned."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from loaders import local_stack
from loaders.config import Settings
from loaders.errors import LoaderError
from tests.conftest import free_port


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


@pytest.fixture
def traversable_folder() -> Iterator[Path]:
    """A new folder any user may traverse (pytest's own temporary tree is private)."""
    folder = Path(tempfile.mkdtemp(prefix="shop-elt-stack-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_folders_it_did_not_create_keep_their_permissions(traversable_folder: Path) -> None:
    """Run as root the server is another user; a private folder on the way stays private (the
    stack says which folder blocks it instead of opening it), and so do its parents."""
    private = traversable_folder / "private"
    private.mkdir()
    private.chmod(0o700)
    before = {folder: stat.S_IMODE(folder.stat().st_mode) for folder in [private, *private.parents]}
    settings = Settings.from_env(
        {"PIPELINE_LOCAL_DIR": str(private / "stack"), "LOCAL_PG_PORT": str(free_port())}
    )
    if os.geteuid() == 0:
        with pytest.raises(LoaderError, match=f"cannot reach {private}/stack/pg: {private} is mode 0700"):
            local_stack.up(settings)
    else:  # the server runs as this user: nothing to let through
        try:
            local_stack.up(settings)
        finally:
            local_stack.down(settings)
    after = {folder: stat.S_IMODE(folder.stat().st_mode) for folder in before}
    assert after == before
