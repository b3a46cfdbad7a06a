"""The sample-data generator: deterministic, dirty in the right proportions, referentially sound."""

from __future__ import annotations

import hashlib
from pathlib import Path

from loaders.sample_data import write_interactions_csv
from tests.reference import expected_from_csv


def test_the_same_seed_and_day_give_the_same_bytes(tmp_path: Path) -> None:
    a = write_interactions_csv(tmp_path / "a.csv", "2026-11-20", rows=5000)
    b = write_interactions_csv(tmp_path / "b.csv", "2026-11-20", rows=5000)
    c = write_interactions_csv(tmp_path / "c.csv", "2026-11-21", rows=5000)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(a.path) == digest(b.path)
    assert digest(a.path) != digest(c.path)


def test_about_one_percent_of_rows_are_dirty_with_every_kind_of_dirt(tmp_path: Path) -> None:
    path = write_interactions_csv(tmp_path / "i.csv", "2026-11-20", rows=50_000).path
    expected = expected_from_csv(path)
    assert expected.lines_read == 50_000
    dirty = len(expected.structural_rejects) + sum(expected.value_rejects.values())
    empty_actions = sum(1 for _, _, action in expected.clean.values() if action == "unknown")
    assert 0.005 < (dirty + empty_actions) / 50_000 < 0.02
    assert 0 < len(expected.structural_rejects) < 100  # "a few"
    for reason in ("missing user_id", "missing product_id", "missing timestamp", "malformed timestamp",
                   "duplicate interaction_id"):  # fmt: skip
        assert expected.value_rejects[reason] > 0, reason
    assert empty_actions > 0


def test_ids_refer_to_existing_customers_and_products(tmp_path: Path) -> None:
    path = write_interactions_csv(tmp_path / "i.csv", "2026-11-20", rows=5000, customers=50, products=7).path
    clean = expected_from_csv(path).clean
    assert {user for user, _, _ in clean.values()} <= set(range(1, 51))
    assert {product for _, product, _ in clean.values()} == set(range(1, 8))
