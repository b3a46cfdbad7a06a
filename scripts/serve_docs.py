"""Serve the generated dbt docs site on the loopback interface (``make docs``).

Only the site's own files are served (``index.html`` and the ``manifest.json`` and
``catalog.json`` it loads), from the folder ``dbt docs generate`` wrote them to; anything else
in that folder (compiled SQL, run results) and any path outside it answer 404.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

PROJECT_DIR = Path(__file__).resolve().parent.parent
SITE_FILES = ("index.html", "manifest.json", "catalog.json")


class DocsRequestHandler(SimpleHTTPRequestHandler):
    """Serves the docs site's files from ``directory`` and nothing else."""

    def send_head(self) -> io.BytesIO | BinaryIO | None:  # the base class's hook for GET and HEAD
        path = urlsplit(self.path).path
        if path == "/":
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", "/index.html")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        name = path.removeprefix("/")
        if name not in SITE_FILES or not (Path(self.directory) / name).is_file():
            self.send_error(HTTPStatus.NOT_FOUND, "not part of the dbt docs site")
            return None
        return super().send_head()

    def list_directory(self, path: str | os.PathLike[str]) -> io.BytesIO | None:
        self.send_error(HTTPStatus.NOT_FOUND)
        return None


def serve(docs_dir: Path, host: str, port: int) -> ThreadingHTTPServer:
    handler = partial(DocsRequestHandler, directory=str(docs_dir))
    return ThreadingHTTPServer((host, port), handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.serve_docs", description=__doc__)
    parser.add_argument("--dir", type=Path, default=PROJECT_DIR / "dbt_project" / "target")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    docs_dir = args.dir.resolve()
    if not (docs_dir / "index.html").is_file():
        print(f"error: no dbt docs in {docs_dir}: run `make docs-generate` first", file=sys.stderr)
        return 1
    try:
        server = serve(docs_dir, args.host, args.port)
    except OSError as err:
        print(
            f"error: cannot listen on {args.host}:{args.port} ({err.strerror}): set DOCS_PORT",
            file=sys.stderr,
        )
        return 1
    print(
        f"== dbt docs at http://{args.host}:{server.server_address[1]}/ (from {docs_dir}); Ctrl-C stops",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
