"""Publish the generated dbt docs site to the lake (``docs/`` next to ``raw/``)."""

from __future__ import annotations

import logging
from pathlib import Path

from loaders.errors import LoaderError
from loaders.lake import Lake

log = logging.getLogger(__name__)

SITE_FILES = ("index.html", "manifest.json", "catalog.json")
DOCS_PREFIX = "docs"


def publish_docs_site(target_dir: Path, lake: Lake) -> list[str]:
    """Copy the docs site files from a dbt ``target/`` folder to ``<lake>/docs/``."""
    missing = [name for name in SITE_FILES if not (target_dir / name).exists()]
    if missing:
        raise LoaderError(f"{target_dir} lacks {', '.join(missing)}: run `dbt docs generate` first")
    uris = []
    for name in SITE_FILES:
        lake.write_object(f"{DOCS_PREFIX}/{name}", (target_dir / name).read_bytes())
        uris.append(lake.uri(f"{DOCS_PREFIX}/{name}"))
    log.info("dbt docs published to %s", lake.uri(DOCS_PREFIX))
    return uris
