"""The dbt docs site inside the Airflow UI, for logged-in Airflow users only.

Airflow's API server mounts a small FastAPI app at ``/dbt-docs`` that serves the static site
``dbt docs generate`` writes (``index.html``, ``manifest.json``, ``catalog.json``), and the UI
gets a "dbt Docs" entry under Browse that shows it in a frame.

Every request is authenticated the way Airflow's own UI and REST API are: with the JWT the
auth manager issued at login, sent as the ``_token`` cookie (the UI) or as an
``Authorization: Bearer`` header (API clients). The token is validated by the auth manager
(signature, expiry, revocation at logout) and the user must be allowed to use the website.
Without a valid token a browser is redirected to the login page and any other client gets
401. Only the docs site's own files are served; nothing else in the folder, and no path
outside it, is reachable.

The folder is ``DBT_DOCS_DIR``, else ``$DBT_PROJECT_DIR/target``, else ``dbt_project/target``
next to this plugin's folder. Cosmos ships a docs plugin too, but on Airflow 3 it serves the
docs and the manifest without authentication: it is deliberately not used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

URL_PREFIX = "/dbt-docs"
# the files of dbt's docs site: the page, and the two artifacts it fetches
SITE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "manifest.json": "application/json",
    "catalog.json": "application/json",
}
RESPONSE_HEADERS = {
    # authenticated content: never stored by shared caches, revalidated by the browser
    "Cache-Control": "private, no-cache",
    "X-Content-Type-Options": "nosniff",
    # shown in a frame of the Airflow UI (same origin), nowhere else
    "Content-Security-Policy": "frame-ancestors 'self'",
}


@dataclass(frozen=True)
class DocsSite:
    """Where the generated docs live."""

    docs_dir: Path

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> DocsSite:
        env = dict(os.environ) if env is None else env
        if env.get("DBT_DOCS_DIR"):
            docs_dir = Path(env["DBT_DOCS_DIR"])
        elif env.get("DBT_PROJECT_DIR"):
            docs_dir = Path(env["DBT_PROJECT_DIR"]) / "target"
        else:
            docs_dir = Path(__file__).resolve().parent.parent / "dbt_project" / "target"
        return cls(docs_dir=docs_dir.resolve())

    def file(self, name: str) -> Path | None:
        """The site file called ``name``, or None when it is not one (or not generated yet)."""
        if name not in SITE_FILES:
            return None
        path = (self.docs_dir / name).resolve()
        # a symlink pointing out of the folder is not part of the site
        if not path.is_relative_to(self.docs_dir) or not path.is_file():
            return None
        return path


class NotLoggedInError(Exception):
    """The request carries no valid Airflow token."""


def _api_root_path() -> str:
    """The path Airflow is served under (``[api] base_url``), without a trailing slash."""
    return urlsplit(conf.get("api", "base_url", fallback="") or "/").path.rstrip("/")


async def airflow_user(request: Request) -> Any:
    """The Airflow user behind the request's JWT; raises NotLoggedInError or a 403."""
    # imported here: only the API server needs them, and every Airflow process loads plugins
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from jwt import InvalidTokenError

    # the same precedence as Airflow's API: an explicit bearer token wins over the UI cookie
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        raise NotLoggedInError("no token")
    auth_manager = get_auth_manager()
    try:
        user = await auth_manager.get_user_from_token(token)
    except InvalidTokenError as err:  # bad signature, expired, revoked, unknown user
        raise NotLoggedInError(str(err)) from None
    if not auth_manager.is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this user may not use the Airflow website")
    return user


def create_docs_app(site: DocsSite | None = None) -> FastAPI:
    site = site or DocsSite.from_env()
    app = FastAPI(
        title="dbt docs",
        description="The dbt docs site, for authenticated Airflow users.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.exception_handler(NotLoggedInError)
    async def ask_to_log_in(request: Request, exc: NotLoggedInError) -> Response:
        if "text/html" in request.headers.get("Accept", ""):
            from airflow.api_fastapi.app import get_auth_manager

            next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(
                get_auth_manager().get_url_login(next_url=next_url),
                status_code=status.HTTP_303_SEE_OTHER,
                headers={"Cache-Control": "no-store"},
            )
        return JSONResponse(
            {"detail": "Not authenticated"},
            status_code=status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
        )

    @app.get("/", include_in_schema=False, dependencies=[Depends(airflow_user)])
    def site_root() -> Response:
        return RedirectResponse(f"{_api_root_path()}{URL_PREFIX}/index.html")

    @app.get("/{name:path}", include_in_schema=False, dependencies=[Depends(airflow_user)])
    def site_file(name: str) -> Response:
        path = site.file(name)
        if path is None:
            if name == "index.html":
                detail = f"the dbt docs are not generated yet in {site.docs_dir}: run `make docs-generate`"
            else:
                detail = "Not Found"
            return JSONResponse({"detail": detail}, status_code=status.HTTP_404_NOT_FOUND)
        return FileResponse(path, media_type=SITE_FILES[name], headers=RESPONSE_HEADERS)

    return app


class DbtDocsPlugin(AirflowPlugin):
    name = "dbt_docs"
    # AirflowPlugin annotates these as instance attributes; a plugin sets them on its class
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [  # type: ignore[misc]
        {"name": "dbt_docs", "app": create_docs_app(), "url_prefix": URL_PREFIX}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [  # type: ignore[misc]
        {
            "name": "dbt Docs",
            "href": f"{_api_root_path()}{URL_PREFIX}/index.html",
            # shown inside the UI at /plugin/dbt-docs, in the Browse menu
            "url_route": "dbt-docs",
            "category": "browse",
            "destination": "nav",
        }
    ]
