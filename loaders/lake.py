"""The lake: where raw files land, laid out as ``raw/<source>/<table>/ds=<YYYY-MM-DD>/``.

``Lake.from_url`` accepts ``file:///path`` (the local default) and gives one interface for
writing parts, manifests and listing a day. A day is written part by part into a hidden
staging folder and published by a rename, so a reader never sees half a day, and writing a day
again replaces it whole.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from loaders.errors import LoaderError

MANIFEST = "_manifest.json"


def day_prefix(source: str, table: str, ds: str) -> str:
    return f"raw/{source}/{table}/ds={ds}"


class Lake:
    """A lake rooted in a local folder."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url.rstrip("/")

    @classmethod
    def from_url(cls, url: str) -> Lake:
        parsed = urlparse(url)
        if parsed.scheme == "file":
            root = Path(unquote(parsed.path))
            root.mkdir(parents=True, exist_ok=True)
            return cls(root, url)
        if parsed.scheme in ("", None) and url:
            root = Path(url).resolve()
            root.mkdir(parents=True, exist_ok=True)
            return cls(root, root.as_uri())
        raise LoaderError(f"LAKE_URL={url!r}: use file:///path/to/folder")

    def uri(self, key: str) -> str:
        return f"{self.url}/{key}"

    def local_path(self, key: str) -> Path:
        return self.root / key

    @contextmanager
    def write_day(self, prefix: str) -> Iterator[DayWriter]:
        """Write the files of one day; on success they replace the day atomically."""
        final = self.root / prefix
        staging = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.tmp"
        staging.mkdir(parents=True)
        writer = DayWriter(staging, prefix)
        try:
            yield writer
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        old = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.old"
        if final.exists():
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)

    def read_manifest(self, prefix: str) -> dict:
        path = self.root / prefix / MANIFEST
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise LoaderError(
                f"no {MANIFEST} in {self.uri(prefix)}: the day was never landed (or landing was "
                "interrupted); land it again"
            ) from None

    def open_read(self, key: str) -> BinaryIO:
        return (self.root / key).open("rb")


class DayWriter:
    """Collects the files of one day in a staging folder."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix

    def open(self, name: str) -> BinaryIO:
        return (self.folder / name).open("wb")

    def write_json(self, name: str, document: dict) -> None:
        path = self.folder / name
        path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
        # the manifest is the last thing written: make it durable before the day is published
        with path.open("rb") as f:
            os.fsync(f.fileno())

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"
