"""Publish the generated dbt docs site to the lake (``docs/`` next to ``raw/``)."""

from __future__ import annotations

import logging
from pathlib import Path

from loaders.errors import LoaderError
from loaders.lake import Lake

log = logging.getLogger(__name__)

SITE_FILES = ("index.html", "manifest.json", "catalog.json")
DOCS_PREFIX = "docs"


def publish_docs_site(target_dir: Path, lake: Lake, site_dir: Path | None = None) -> list[str]:
    """Copy the docs site files from a dbt ``target/`` folder to ``<lake>/docs/`` and, when
    given, to ``site_dir`` (the folder the Airflow UI's docs plugin serves). Returns where."""
    missing = [name for name in SITE_FILES if not (target_dir / name).exists()]
    if missing:
        raise LoaderError(f"{target_dir} lacks {', '.join(missing)}: run `dbt docs generate` first")
    for name in SITE_FILES:
        lake.write_object(f"{DOCS_PREFIX}/{name}", (target_dir / name).read_bytes())
    destinations = [lake.uri(DOCS_PREFIX)]
    if site_dir is not None:
        site_dir.mkdir(parents=True, exist_ok=True)
        for name in SITE_FILES:
            staging = site_dir / f".{name}.tmp"
            staging.write_bytes((target_dir / name).read_bytes())
            staging.replace(site_dir / name)
        destinations.append(str(site_dir))
    log.info("dbt docs published to %s", ", ".join(destinations))
    return destinations
