"""No artifact holds the PII hash key: no file the docs site serves, nothing dbt writes.

A warehouse gets a distinctive key (installed as `python -m loaders pii-key` does), a small day
is landed, and the real dbt CLI runs `dbt build` (models, snapshots, data and unit tests), then
`dbt docs generate` (compiled, with the warehouse's catalog), and the site is published as the
DAG's `dbt_docs` task does. The key is also in the environment of every dbt process, under its
name and the one earlier versions read (`PII_HASH_SALT`), as on a machine where the installer
and dbt share one environment. The key is then looked for, as bytes, in:

- every file the docs site serves (the Airflow plugin and `make docs`): from the target folder
  after the build and after `docs generate`, from the folder the DAG publishes to, and in the
  lake's `docs/`;
- every file under the target and log folders;
- the warehouse's view definitions, function bodies and object comments.

And the marts do hash with it: `dim_customers.email_hash` is `pii_hash(key, email)`.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import psycopg
import pytest

from loaders import pii_key
from loaders.config import Settings
from loaders.docs import publish_docs_site
from loaders.lake import Lake
from scripts import serve_docs
from tests.conftest import BIN, PROJECT_DIR, env_for, fresh_warehouse
from tests.test_dbt_access import land

pytestmark = pytest.mark.dbt


@dataclass(frozen=True)
class Artifacts:
    key: str
    settings: Settings
    target: Path  # dbt's --target-path
    logs: Path  # dbt's --log-path
    served_after_build: dict[str, bytes]  # what the site served between `build` and `docs generate`
    target_after_build: dict[str, bytes]  # every file under the target folder then
    site: Path  # where the DAG publishes the site for the plugin (DBT_DOCS_DIR)
    lake_docs: Path


def docs_plugin() -> ModuleType:
    """The Airflow docs plugin, loaded as Airflow's plugin loader does."""
    spec = importlib.util.spec_from_file_location(
        "dbt_docs_plugin_under_scan", PROJECT_DIR / "airflow_plugins" / "dbt_docs_plugin.py"
    )
    assert spec and spec.loader
    plugin = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = plugin
    try:
        spec.loader.exec_module(plugin)
    finally:
        del sys.modules[spec.name]
    return plugin


def served_files(plugin: ModuleType, folder: Path) -> dict[str, bytes]:
    """Every file the plugin and `make docs` (scripts/serve_docs.py) serve from ``folder``."""
    site = plugin.DocsSite(docs_dir=folder.resolve())
    served = {}
    for name in sorted({*plugin.SITE_FILES, *serve_docs.SITE_FILES}):
        path = site.file(name) if name in plugin.SITE_FILES else folder / name
        if path is not None and path.is_file():
            served[f"{folder.name}/{name}"] = path.read_bytes()
    return served


def files_under(*roots: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root.parent)): path.read_bytes()
        for root in roots
        for path in root.rglob("*")
        if path.is_file()
    }


def dbt(settings: Settings, artifacts: tuple[Path, Path], key: str, *args: str) -> None:
    target, logs = artifacts
    result = subprocess.run(
        [str(BIN / "dbt"), "--no-use-colors", *args,
         "--project-dir", str(PROJECT_DIR / "dbt_project"), "--profiles-dir", str(PROJECT_DIR / "dbt_project"),
         "--target-path", str(target), "--log-path", str(logs)],
        env=env_for(settings, PII_HASH_KEY=key, PII_HASH_SALT=key),
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}"


@pytest.fixture(scope="module")
def artifacts(pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Artifacts]:
    folder = tmp_path_factory.mktemp("pii_artifacts")
    key = f"pii-scan-{secrets.token_hex(16)}"
    with fresh_warehouse(pg_settings, folder) as settings:
        with psycopg.connect(settings.warehouse.conninfo()) as conn:
            pii_key.install_hash_key(conn, key, where="the scanned warehouse", replace=True)
        land(settings, folder)
        paths = (folder / "target", folder / "logs")
        dbt(settings, paths, key, "build")
        after_build = served_files(docs_plugin(), paths[0])
        target_after_build = files_under(paths[0])
        dbt(settings, paths, key, "docs", "generate")
        lake = Lake.from_url(settings.lake_url)
        publish_docs_site(paths[0], lake, folder / "site")
        yield Artifacts(
            key=key,
            settings=settings,
            target=paths[0],
            logs=paths[1],
            served_after_build=after_build,
            target_after_build=target_after_build,
            site=folder / "site",
            lake_docs=Path(urlsplit(settings.lake_url).path) / "docs",
        )


def holding(key: str, files: dict[str, bytes]) -> list[str]:
    return sorted(name for name, data in files.items() if key.encode() in data)


def test_no_file_the_docs_site_serves_holds_the_key(artifacts: Artifacts) -> None:
    plugin = docs_plugin()
    after_docs = served_files(plugin, artifacts.target)
    published = served_files(plugin, artifacts.site)
    lake = {f"lake/docs/{p.name}": p.read_bytes() for p in artifacts.lake_docs.iterdir() if p.is_file()}
    assert not holding(artifacts.key, {**artifacts.served_after_build, **after_docs, **published, **lake})
    # the site is really there: the page, the manifest with the compiled SQL, the catalog
    assert set(published) == {f"site/{name}" for name in ("index.html", "manifest.json", "catalog.json")}
    assert set(lake) == {f"lake/docs/{name}" for name in ("index.html", "manifest.json", "catalog.json")}
    assert "target/manifest.json" in artifacts.served_after_build
    manifest = json.loads(after_docs["target/manifest.json"])
    assert "source.shop_analytics.pii_keys.hash_key" in manifest["sources"]
    compiled = manifest["nodes"]["model.shop_analytics.dim_customers"]["compiled_code"]
    assert '(select hash_key from "' in compiled and '"."pii_keys"."hash_key")' in compiled


def test_nothing_under_the_target_or_log_folder_holds_the_key(artifacts: Artifacts) -> None:
    files = files_under(artifacts.target, artifacts.logs)
    after_build = {f"{name} (after the build)": data for name, data in artifacts.target_after_build.items()}
    assert not holding(artifacts.key, {**after_build, **files})
    assert len(files) > 100
    assert "target/run_results.json" in files and "logs/dbt.log" in files
    assert "target/run_results.json" in artifacts.target_after_build
    # the SQL that ran names where the key is, not what it is
    [ran] = [
        name for name in files if name.endswith("/run/shop_analytics/models/marts/core/dim_customers.sql")
    ]
    assert b'(select hash_key from "' in files[ran] and b'"."pii_keys"."hash_key")' in files[ran]


def test_no_view_function_or_comment_in_the_warehouse_holds_the_key(artifacts: Artifacts) -> None:
    with psycopg.connect(artifacts.settings.warehouse.conninfo()) as conn:
        texts = conn.execute(
            """
            select 'view ' || schemaname || '.' || viewname, definition from pg_views
            where schemaname not in ('pg_catalog', 'information_schema')
            union all
            select 'function ' || p.proname, p.prosrc from pg_proc as p
            join pg_namespace as n on n.oid = p.pronamespace
            where n.nspname not in ('pg_catalog', 'information_schema')
            union all
            select 'comment on ' || objoid::text, description from pg_description
            """
        ).fetchall()
    assert any(name.startswith("view staging.") for name, _ in texts)
    assert not holding(artifacts.key, {name: (text or "").encode() for name, text in texts})


def test_the_marts_hash_with_the_installed_key(artifacts: Artifacts) -> None:
    with psycopg.connect(artifacts.settings.warehouse.conninfo()) as conn:
        rows = conn.execute(
            "select clear.email, masked.email_hash from pii.pii_customers as clear"
            " join marts.dim_customers as masked using (customer_id)"
        ).fetchall()
    assert len(rows) > 10
    assert all(email_hash == pii_key.pii_hash(artifacts.key, email) for email, email_hash in rows)
