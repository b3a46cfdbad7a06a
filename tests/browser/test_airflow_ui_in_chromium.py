"""The Airflow UI in a real browser (Debian's chromium, driven by playwright).

One api-server and dag-processor (temp AIRFLOW_HOME, free port) serve the whole module: a user
logs in, finds `etl_pipeline` with its Cosmos task group `dbt`, and opens the dbt docs from the
UI's navigation to see a model's lineage. Screenshots go to `.local/screenshots/`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, FrameLocator, Page, sync_playwright

from loaders.config import Settings
from scripts.airflow_local import LocalAirflow
from scripts.airflow_local_cli import admin_password
from tests.conftest import PROJECT_DIR, free_port, scratch_metadata_db, serving
from tests.test_docs_site import MANIFEST, build_docs_site

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_DIR / ".local" / "screenshots"
MODEL = "fct_interactions"


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's chromium; installed with `make browser-deps` when missing."""
    if not CHROMIUM.exists():
        result = subprocess.run(
            ["make", "--no-print-directory", "browser-deps", f"CHROMIUM={CHROMIUM}"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode != 0 or not CHROMIUM.exists():
            pytest.fail(
                f"the browser tests need Debian's chromium at {CHROMIUM}; `make browser-deps` failed:\n"
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
    return CHROMIUM


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory, pg_settings: Settings) -> Iterator[LocalAirflow]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")}
    env["DBT_DOCS_DIR"] = str(build_docs_site(tmp_path_factory.mktemp("site") / "target"))
    home = tmp_path_factory.mktemp("airflow_home")
    with scratch_metadata_db(pg_settings) as url:
        local = LocalAirflow(home=home, port=free_port(), metadata_db_url=url, base_env=env)
        with serving(local, ["api-server", "dag-processor"], timeout=300):
            yield local


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) per test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    try:
        yield context
    finally:
        context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover tooltips in the picture
    page.screenshot(path=SCREENSHOTS / f"{name}.png")


def log_in(page: Page, airflow: LocalAirflow) -> None:
    """Fill in the simple auth manager's login form, as a user does."""
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill(admin_password(airflow))
    page.locator("button[type=submit]").click()


def logged_in_page(context: BrowserContext, airflow: LocalAirflow, path: str = "/") -> Page:
    page = context.new_page()
    page.goto(f"{airflow.base_url}{path}")
    log_in(page, airflow)
    page.wait_for_url(f"{airflow.base_url}{path}")
    return page


def test_the_docs_ask_for_a_login_and_then_open(context: BrowserContext, airflow: LocalAirflow) -> None:
    page = context.new_page()
    page.goto(f"{airflow.base_url}/dbt-docs/index.html")
    assert page.url == f"{airflow.base_url}/auth/login?next=%2Fdbt-docs%2Findex.html"
    page.locator("input[name=password]").wait_for()
    screenshot(page, "01-login-asked-for-the-dbt-docs")

    log_in(page, airflow)
    page.wait_for_url(re.compile(re.escape(f"{airflow.base_url}/dbt-docs/index.html")))
    page.get_by_placeholder("Search for models...").wait_for()


def test_a_logged_in_user_sees_the_etl_pipeline_dag(context: BrowserContext, airflow: LocalAirflow) -> None:
    page = logged_in_page(context, airflow, "/dags")
    link = page.get_by_role("link", name="etl_pipeline", exact=True)
    link.first.wait_for()
    screenshot(page, "02-dags-list")


def test_the_dag_shows_the_cosmos_dbt_task_group(context: BrowserContext, airflow: LocalAirflow) -> None:
    page = logged_in_page(context, airflow, "/dags/etl_pipeline")

    page.get_by_role("button", name="Show Graph (Press g)").click()
    page.locator(".react-flow__node").filter(has_text=re.compile(r"^\s*dbt\s*Task Group")).wait_for()
    screenshot(page, "03-dag-graph-with-the-dbt-task-group")

    page.get_by_role("button", name="Show Grid (Press g)").click()
    page.locator('[aria-label="Toggle group"][data-group-id="dbt"]').click()
    # Cosmos renders one task group per dbt model (its run, then its tests) inside `dbt`
    page.locator('[data-group-id^="dbt."]').first.wait_for()
    groups = page.locator('[data-group-id^="dbt."]').evaluate_all(
        "els => els.map(e => e.getAttribute('data-group-id').slice(4))"
    )
    models = {
        n["name"] for n in json.loads(MANIFEST.read_text())["nodes"].values() if n["resource_type"] == "model"
    }
    assert set(groups) & models, groups
    screenshot(page, "04-dag-grid-with-the-dbt-models")


def test_the_dbt_docs_open_inside_the_ui_with_a_models_lineage(
    context: BrowserContext, airflow: LocalAirflow
) -> None:
    page = logged_in_page(context, airflow)
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="dbt Docs").click()
    page.wait_for_url(re.compile(re.escape(f"{airflow.base_url}/plugin/dbt-docs")))
    docs: FrameLocator = page.frame_locator("iframe")
    assert page.locator("iframe").get_attribute("src") == "/dbt-docs/index.html"

    docs.get_by_placeholder("Search for models...").fill(MODEL)
    docs.locator("h4.a").filter(has_text=re.compile(rf"^\s*{MODEL}(\s|$)")).click()
    docs.locator("h1", has_text=MODEL).wait_for()
    docs.locator('[title="View Lineage Graph"]').click()
    docs.locator("#cy canvas").first.wait_for()
    page.wait_for_timeout(1500)  # the graph's layout animation
    shown = docs.locator("#cy").evaluate(
        "el => el._cyreg.cy.nodes().filter(n => n.visible()).map(n => n.data('name'))"
    )
    manifest = json.loads(MANIFEST.read_text())
    parents = [
        manifest["nodes"][p]["name"]
        for p in manifest["nodes"][f"model.shop_analytics.{MODEL}"]["depends_on"]["nodes"]
        if p.startswith("model.")
    ]
    assert MODEL in shown
    assert parents and set(parents) <= set(shown), (parents, shown)
    screenshot(page, "05-dbt-docs-lineage-of-fct_interactions")
