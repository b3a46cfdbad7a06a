"""A manifest is read like input: anything a load cannot use exactly is refused with one line."""

from __future__ import annotations

import copy

import pytest

from loaders.errors import BadInputError
from loaders.manifest import check_manifest

DS = "2026-11-20"
SHA = "a" * 64
GOOD = {
    "source": "interactions", "table": "user_interactions", "ds": DS, "format": "csv.gz",
    "version": "20261120T060102123456Z-3fa9c1",
    "columns": [{"name": n, "type": "text"} for n in ("interaction_id", "user_id", "product_id", "action", "timestamp")],
    "parts": [{"key": "part-00000-20261120T060102123456Z-3fa9c1.csv.gz", "rows": 9, "bytes": 100, "sha256": SHA}],
    "rejects": {"key": "rejects-20261120T060102123456Z-3fa9c1.csv.gz", "rows": 1, "bytes": 50, "sha256": SHA},
    "rows_read": 10, "rows_valid": 9, "rows_rejected": 1, "source_sha256": SHA,
}  # fmt: skip


def changed(**fields):
    document = copy.deepcopy(GOOD)
    for name, value in fields.items():
        if value is None:
            document.pop(name)
        else:
            document[name] = value
    return document


def test_a_whole_manifest_is_read_typed() -> None:
    manifest = check_manifest(GOOD, "interactions", "user_interactions", DS, "here")
    assert (manifest.rows_valid, manifest.rejects.rows, manifest.parts[0].rows) == (9, 1, 9)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (changed(rejects=None), "counts 1 rejects but lists no rejects part"),
        (changed(rejects={**GOOD["rejects"], "rows": 2}), "rejects part holds 2 rows"),
        (changed(parts=[{**GOOD["parts"][0], "rows": 8}]), "parts hold 8 rows, rows_valid is 9"),
        (changed(parts=[{**GOOD["parts"][0], "key": "../ds=2026-11-19/part.csv.gz"}]), "not an object of the day"),
        (changed(parts=[{**GOOD["parts"][0], "key": "/etc/passwd"}]), "not an object of the day"),
        (changed(parts=[{**GOOD["parts"][0], "rows": True}]), "no row or byte count"),
        (changed(rows_read="10"), "counts do not add up"),
        (changed(ds="2026-11-19"), "describes interactions/user_interactions 2026-11-19"),
        (changed(columns=[{"name": "interaction_id", "type": "text"}]), "differ from"),
        (changed(format="parquet"), "is not csv.gz"),
        (changed(version=7), "version is not text"),
        ([], "a JSON list"),
    ],
    ids=["rejects-counted-not-listed", "rejects-part-short", "parts-short", "dot-dot-key", "absolute-key",
         "boolean-count", "text-count", "another-day", "columns-missing", "format", "version-type", "a-list"],
)  # fmt: skip
def test_a_manifest_a_load_cannot_use_exactly_is_refused(document, problem: str) -> None:
    with pytest.raises(BadInputError, match="unusable manifest") as refused:
        check_manifest(document, "interactions", "user_interactions", DS, "file:///lake/day")
    assert problem in str(refused.value)
    assert "\n" not in str(refused.value)
