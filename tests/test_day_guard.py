"""A day is replaced only by a file that is plausibly the whole day (loaders/day_guard.py).

A good day of 2,000 rows is loaded first; each bad file is then given to the command line as a
re-delivery of the same day. It must exit non-zero with one ``error:`` line, and leave the day
exactly as it was: the same rows in raw, the same lake manifest and part, one audit row.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from loaders.config import Settings
from loaders.day_guard import DayGuard, fraction
from loaders.errors import BadInputError, LoaderError
from loaders.sample_data import write_interactions_csv
from tests.conftest import PROJECT_DIR, env_for

DS = "2026-11-20"
HEADER = "interaction_id,user_id,product_id,action,timestamp\n"
DAY = f"raw/interactions/user_interactions/ds={DS}"


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loaders", *args], cwd=PROJECT_DIR, env=env_for(settings),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def lake_day(settings: Settings) -> dict[str, bytes]:
    folder = Path(settings.lake_url.removeprefix("file://")) / DAY
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def raw_state(wh: psycopg.Connection) -> tuple:
    return (
        wh.execute("select count(*), md5(string_agg(interaction_id, ',' order by interaction_id)) "
                   "from raw.user_interactions where _ds = %s", (DS,)).fetchone(),
        wh.execute("select count(*) from raw.load_audit").fetchone(),
    )  # fmt: skip


@pytest.fixture
def good_day(settings: Settings, wh, tmp_path: Path) -> tuple:
    good = write_interactions_csv(tmp_path / "good.csv", DS, rows=2_000).path
    result = run_cli(settings, "interactions", "--file", str(good), "--ds", DS)
    assert result.returncode == 0, result.stderr
    return raw_state(wh), lake_day(settings)


BAD_FILES = {
    # what replaced a loaded day with an empty one before the rule
    "forty lines with ; delimiters": HEADER
    + "".join(f"{i};10;100;view;2026-11-20T10:00:00Z\n" for i in range(40)),
    "a header and nothing else": HEADER,
    "a header and one 5 MB line": HEADER + "x" * (5 << 20) + "\n",
    "three good lines among forty broken ones": HEADER
    + "".join(f"{i},10,100,view,2026-11-20T10:00:00Z\n" for i in range(3))
    + "".join(f"{i}|10|100|view\n" for i in range(40)),
    "a tenth of the day (a partial re-delivery)": HEADER
    + "".join(f"{i},10,100,view,2026-11-20T10:00:00Z\n" for i in range(150)),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_file_that_is_not_plausibly_the_whole_day_does_not_replace_it(
    settings: Settings, wh, good_day: tuple, tmp_path: Path, kind: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_FILES[kind])
    result = run_cli(settings, "interactions", "--file", str(bad), "--ds", DS)
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert (raw_state(wh), lake_day(settings)) == good_day


@pytest.mark.parametrize("value", ["nan", "inf", "-0.1", "1.5", "abc", ""])
def test_an_invalid_guard_value_is_refused_before_anything_is_read(
    settings: Settings, wh, good_day: tuple, tmp_path: Path, value: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_FILES["forty lines with ; delimiters"])
    result = run_cli(settings, "interactions", "--file", str(bad), "--ds", DS, "--max-reject-fraction", value)
    assert result.returncode == 2
    assert "--max-reject-fraction" in result.stderr and "from 0 to 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert (raw_state(wh), lake_day(settings)) == good_day


def test_allow_shrink_replaces_the_day_with_a_smaller_one(
    settings: Settings, wh, good_day: tuple, tmp_path: Path
) -> None:
    small = tmp_path / "small.csv"
    small.write_text(BAD_FILES["a tenth of the day (a partial re-delivery)"])
    result = run_cli(settings, "interactions", "--file", str(small), "--ds", DS, "--allow-shrink")
    assert result.returncode == 0, result.stderr
    assert wh.execute("select count(*) from raw.user_interactions where _ds = %s", (DS,)).fetchone() == (150,)
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER)
    assert (
        run_cli(settings, "interactions", "--file", str(empty), "--ds", DS, "--allow-shrink").returncode == 0
    )
    assert wh.execute("select count(*) from raw.user_interactions where _ds = %s", (DS,)).fetchone() == (0,)
    # ... but not a file mostly broken
    broken = tmp_path / "broken.csv"
    broken.write_text(BAD_FILES["three good lines among forty broken ones"])
    result = run_cli(settings, "interactions", "--file", str(broken), "--ds", DS, "--allow-shrink")
    assert result.returncode == 1 and "40 of 43 lines are broken" in result.stderr


def test_a_whole_day_delivered_again_replaces_it(
    settings: Settings, wh, good_day: tuple, tmp_path: Path
) -> None:
    again = write_interactions_csv(tmp_path / "again.csv", DS, rows=1_200, seed=7).path  # 60 %: plausible
    assert run_cli(settings, "interactions", "--file", str(again), "--ds", DS).returncode == 0
    assert raw_state(wh)[0] != good_day[0][0]


def test_the_rule() -> None:
    guard = DayGuard()
    guard.check("f", valid=8, rejected=2, previous_valid=None)  # a small file with typos: quarantine
    guard.check("f", valid=100, rejected=11, previous_valid=None)  # 9.9 %
    guard.check("f", valid=500, rejected=0, previous_valid=1_000)  # half: plausible
    with pytest.raises(BadInputError, match="12 of 112 lines are broken"):
        guard.check("f", valid=100, rejected=12, previous_valid=None)
    with pytest.raises(BadInputError, match="no valid row"):
        guard.check("f", valid=0, rejected=3, previous_valid=None)
    with pytest.raises(BadInputError, match="fewer than 50% of the 1,000"):
        guard.check("f", valid=499, rejected=0, previous_valid=1_000)
    DayGuard(allow_shrink=True).check("f", valid=0, rejected=0, previous_valid=1_000)
    for value in (float("nan"), float("inf"), -0.01, 1.01, "x", None):
        with pytest.raises(LoaderError, match="from 0 to 1"):
            fraction(value)
    with pytest.raises(LoaderError):
        DayGuard(max_reject_fraction=float("nan"))
