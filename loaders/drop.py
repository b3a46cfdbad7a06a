"""The daily drop of interactions: a folder, or an S3 prefix, where the day's CSV appears.

The file for day ``ds`` is named ``user_interactions_<ds>.csv``. ``INTERACTIONS_DROP_URL`` says
where the drop is (``file:///path`` or ``s3://bucket/prefix``; default: the local drop folder,
``INTERACTIONS_DROP_DIR``). A file is *ready* when it is there and, for a local folder, has not
changed for ``settle_seconds``: an S3 object appears whole, while a local file can be caught
half-written by a writer that does not write-then-rename.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse

from loaders.config import drop_file_name as file_name
from loaders.lake import Lake, ObjectInfo


class Drop:
    def __init__(self, url: str, s3_client: Any = None) -> None:
        self.url = url.rstrip("/")
        self._store = Lake.from_url(self.url, s3_client)
        self.is_s3 = self.url.startswith("s3://")

    def uri(self, ds: str) -> str:
        return self._store.uri(file_name(ds))

    def find(self, ds: str) -> ObjectInfo | None:
        """The day's file if it is there (ready or not)."""
        return self._store.stat(file_name(ds))

    def ready(self, ds: str, settle_seconds: float = 0.0, now: float | None = None) -> ObjectInfo | None:
        """The day's file once it can be read whole; None while it is missing or still changing."""
        info = self.find(ds)
        if info is None:
            return None
        if not self.is_s3 and (now if now is not None else time.time()) - info.modified < settle_seconds:
            return None
        return info

    def source(self, ds: str) -> Path | str:
        """What the interactions loader reads: a local path, or the object's s3:// URI."""
        uri = self.uri(ds)
        return uri if self.is_s3 else Path(unquote(urlparse(uri).path))

    def open(self, ds: str) -> BinaryIO:
        return self._store.open_read(file_name(ds))
