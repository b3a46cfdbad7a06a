"""The secret scan: no secret in the repository beyond the reviewed ones of `.secrets.baseline`.

detect-secrets scans every file git tracks or would track (untracked files count, ignored ones
do not), with the plugins and filters the baseline records. Each finding of the baseline has
been audited (`is_secret: false`: local-only passwords, test fixtures, example hashes). A new
finding fails the test with its file, line and kind (never its value): remove the secret, or,
if it is not one, add it to the baseline and audit it:

    detect-secrets scan --baseline .secrets.baseline $(git ls-files -co --exclude-standard)
    detect-secrets audit .secrets.baseline
"""

from __future__ import annotations

import subprocess
from contextlib import chdir
from pathlib import Path

import pytest
from detect_secrets.core import baseline
from detect_secrets.core.secrets_collection import SecretsCollection

REPO = Path(__file__).resolve().parents[1]
BASELINE = ".secrets.baseline"


def repository_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    return sorted(name for name in listed if name and name != BASELINE and (REPO / name).is_file())


def scan(folder: Path, files: list[str]) -> SecretsCollection:
    """What detect-secrets finds in ``files`` (paths relative to ``folder``, as in the baseline)."""
    found = SecretsCollection()
    with chdir(folder):
        for name in files:
            found.scan_file(name)
    return found


@pytest.fixture(scope="module")
def reviewed() -> SecretsCollection:
    """The baseline's findings; loading it also sets the plugins and filters the scan uses."""
    return baseline.load(baseline.load_from_file(str(REPO / BASELINE)), BASELINE)


def test_no_secret_beyond_the_reviewed_baseline(reviewed: SecretsCollection) -> None:
    new = scan(REPO, repository_files()) - reviewed
    findings = [f"{name}:{secret.line_number} {secret.type}" for name, secret in new]
    assert not findings, "secrets not in .secrets.baseline (remove them, or review them):\n" + "\n".join(
        findings
    )


def test_every_finding_of_the_baseline_was_reviewed_as_no_secret(reviewed: SecretsCollection) -> None:
    findings = list(reviewed)
    assert findings
    assert not [f"{name}:{s.line_number} {s.type}" for name, s in findings if s.is_secret is not False]


def test_the_scan_finds_an_aws_key_in_a_new_file(reviewed: SecretsCollection, tmp_path: Path) -> None:
    scratch = tmp_path / "settings.py"
    fake_key = "AKIA" + "ZQ3FAKE7EXAMPLE2"  # assembled here, so this file holds none
    scratch.write_text(f'aws_access_key_id = "{fake_key}"\n')
    assert [secret.type for _, secret in scan(tmp_path, [scratch.name]) - reviewed] == ["AWS Access Key"]
