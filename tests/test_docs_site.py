"""The dbt docs site: served to logged-in Airflow users by our plugin, and locally by `make docs`.

A real Airflow api-server (its own AIRFLOW_HOME, a free port) serves docs that the real
`dbt docs generate` wrote; requests go through Airflow's real login endpoint.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from scripts.airflow_local import LocalAirflow
from scripts.airflow_local_cli import admin_password
from tests.conftest import BIN, PROJECT_DIR, free_port, serving

MANIFEST = PROJECT_DIR / "dbt_project" / "target" / "manifest.json"
DOCS = "/dbt-docs"
MODEL = "model.shop_analytics.fct_interactions"


def build_docs_site(folder: Path) -> Path:
    """The dbt docs site for the project, written by the real `dbt docs generate` into ``folder``.

    No database is needed: the manifest is the project's parsed one and the catalog is empty.
    """
    if not MANIFEST.exists():
        pytest.fail("dbt_project/target/manifest.json is missing: run `make manifest` (make test does)")
    result = subprocess.run(
        [
            str(BIN / "dbt"), "--no-use-colors", "docs", "generate", "--no-compile", "--empty-catalog",
            "--project-dir", str(PROJECT_DIR / "dbt_project"),
            "--profiles-dir", str(PROJECT_DIR / "dbt_project"),
            "--target-path", str(folder), "--log-path", str(folder / "logs"),
        ],
        env={"PATH": f"{BIN}:/usr/bin:/bin", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "HOME": str(folder)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    shutil.copyfile(MANIFEST, folder / "manifest.json")
    return folder


@pytest.fixture(scope="module")
def docs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_docs_site(tmp_path_factory.mktemp("site") / "target")
    # files next to the site that must never be served
    (folder / "run_results.json").write_text('{"secret": "run results"}')
    (folder.parent / "outside.txt").write_text("outside the docs folder")
    return folder


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory, docs_dir: Path) -> Iterator[LocalAirflow]:
    """A real api-server (with the docs plugin) on a free port; SQLite metadata DB in a temp home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")}
    env["DBT_DOCS_DIR"] = str(docs_dir)
    local = LocalAirflow(home=tmp_path_factory.mktemp("airflow_home"), port=free_port(), base_env=env)
    with serving(local, ["api-server"], timeout=180):
        yield local


def log_in(airflow: LocalAirflow) -> str:
    """A token from Airflow's login endpoint for the admin user of the simple auth manager."""
    response = httpx.post(
        f"{airflow.base_url}/auth/token",
        json={"username": "admin", "password": admin_password(airflow)},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


@pytest.fixture(scope="module")
def token(airflow: LocalAirflow) -> str:
    return log_in(airflow)


def get(airflow: LocalAirflow, path: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{airflow.base_url}{path}", headers=headers, timeout=30, follow_redirects=False)


def get_raw(airflow: LocalAirflow, target: str, token: str) -> httpx.Response:
    """GET with the request target sent as is (no client-side removal of ``..``)."""
    with httpx.Client(timeout=30) as client:
        request = client.build_request(
            "GET", f"{airflow.base_url}/", headers={"Authorization": f"Bearer {token}"}
        )
        request.extensions["target"] = target.encode()
        return client.send(request)


def test_without_a_login_the_docs_answer_401_and_browsers_go_to_the_login_page(airflow: LocalAirflow) -> None:
    for path in (f"{DOCS}/index.html", f"{DOCS}/manifest.json", f"{DOCS}/", f"{DOCS}/run_results.json"):
        response = get(airflow, path)
        assert response.status_code == 401, path
        assert "dbt" not in response.text.lower(), path
    page = get(airflow, f"{DOCS}/index.html", Accept="text/html,application/xhtml+xml")
    assert page.status_code == 303
    assert page.headers["location"] == "/auth/login?next=%2Fdbt-docs%2Findex.html"


def test_the_rest_api_also_answers_401_without_a_token(airflow: LocalAirflow) -> None:
    assert get(airflow, "/api/v2/dags").status_code == 401


def test_a_logged_in_user_gets_the_dbt_docs_site(airflow: LocalAirflow, token: str, docs_dir: Path) -> None:
    page = get(airflow, f"{DOCS}/index.html", token)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.content == (docs_dir / "index.html").read_bytes()
    assert "dbt" in page.text and "manifest.json" in page.text  # the docs app, which loads the manifest
    assert page.headers["cache-control"] == "private, no-cache"

    manifest = get(airflow, f"{DOCS}/manifest.json?cb=1", token)
    assert manifest.status_code == 200
    assert MODEL in manifest.json()["nodes"]
    assert get(airflow, f"{DOCS}/catalog.json", token).json()["nodes"] == {}
    # the Airflow UI sends the same token as its `_token` cookie
    with httpx.Client(base_url=airflow.base_url, cookies={"_token": token}, timeout=30) as browser:
        assert browser.get(f"{DOCS}/index.html").status_code == 200


def test_a_forged_or_tampered_token_is_refused(airflow: LocalAirflow, token: str) -> None:
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-airflow-secret-" + "x" * 64, algorithm="HS512")
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    for bad in (forged, tampered, "not-a-jwt"):
        assert get(airflow, f"{DOCS}/index.html", bad).status_code == 401
        with httpx.Client(base_url=airflow.base_url, cookies={"_token": bad}, timeout=30) as browser:
            assert browser.get(f"{DOCS}/index.html").status_code == 401


def test_only_the_sites_own_files_are_served(airflow: LocalAirflow, token: str) -> None:
    for path in (
        f"{DOCS}/run_results.json",
        f"{DOCS}/logs/dbt.log",
        f"{DOCS}/../outside.txt",
        f"{DOCS}/..%2Foutside.txt",
        f"{DOCS}/%2e%2e/outside.txt",
        f"{DOCS}/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        f"{DOCS}/../../../../etc/passwd",
        f"{DOCS}//etc/passwd",
    ):
        response = get_raw(airflow, path, token)
        assert response.status_code in (400, 404), (path, response.status_code)
        assert "outside the docs folder" not in response.text and "root:" not in response.text, path
        assert "run results" not in response.text, path


def test_logging_out_ends_access_to_the_docs(airflow: LocalAirflow) -> None:
    own_token = log_in(airflow)
    assert get(airflow, f"{DOCS}/index.html", own_token).status_code == 200
    assert get(airflow, "/api/v2/auth/logout", own_token).status_code in (200, 302, 303, 307)
    assert get(airflow, f"{DOCS}/index.html", own_token).status_code == 401


def test_the_ui_navigation_has_a_dbt_docs_entry(airflow: LocalAirflow, token: str) -> None:
    plugins = get(airflow, "/api/v2/plugins", token).json()["plugins"]
    docs = next(p for p in plugins if p["name"] == "dbt_docs")
    assert docs["fastapi_apps"][0]["url_prefix"] == DOCS
    [view] = docs["external_views"]
    assert view["name"] == "dbt Docs"
    assert view["href"] == f"{DOCS}/index.html"
    assert view["url_route"] == "dbt-docs"


def test_a_symlink_leading_out_of_the_docs_folder_is_not_part_of_the_site(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "dbt_docs_plugin_under_test", PROJECT_DIR / "airflow_plugins" / "dbt_docs_plugin.py"
    )
    assert spec and spec.loader
    plugin = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = plugin  # as Airflow's plugin loader does
    try:
        spec.loader.exec_module(plugin)
    finally:
        del sys.modules[spec.name]
    site_dir = tmp_path / "target"
    site_dir.mkdir()
    (site_dir / "index.html").write_text("<html>docs</html>")
    (tmp_path / "secret.json").write_text("{}")
    (site_dir / "manifest.json").symlink_to(tmp_path / "secret.json")
    site = plugin.DocsSite.from_env({"DBT_DOCS_DIR": str(site_dir)})
    assert site.file("index.html") == site_dir / "index.html"
    assert site.file("manifest.json") is None
    assert site.file("catalog.json") is None  # not generated
    assert site.file("../secret.json") is None


def test_make_docs_serves_the_site_on_the_loopback_interface_only(docs_dir: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "scripts.serve_docs", "--dir", str(docs_dir), "--port", str(port)],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                root = httpx.get(f"{base}/", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the docs server did not start"
                time.sleep(0.2)
        assert root.status_code == 302 and root.headers["location"] == "/index.html"
        page = httpx.get(f"{base}/index.html", timeout=5)
        assert page.status_code == 200 and page.content == (docs_dir / "index.html").read_bytes()
        assert MODEL in json.loads(httpx.get(f"{base}/manifest.json?cb=2", timeout=5).content)["nodes"]
        for path in ("/run_results.json", "/logs/", "/../outside.txt", "/%2e%2e/outside.txt"):
            with httpx.Client(timeout=5) as client:
                request = client.build_request("GET", f"{base}/")
                request.extensions["target"] = path.encode()
                response = client.send(request)
            assert response.status_code == 404, path
            assert "outside the docs folder" not in response.text, path
        if other := _non_loopback_address():
            with pytest.raises(httpx.TransportError):  # nothing listens on the other interfaces
                httpx.get(f"http://{other}:{port}/", timeout=2)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _non_loopback_address() -> str | None:
    """This machine's address on its outgoing interface, if it has one besides the loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # UDP: nothing is sent, this only picks the interface
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address
