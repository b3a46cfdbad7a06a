"""Named points in the commit path where the fault-injection tests stop a load.

``LOADERS_FAILPOINT=<name>`` and ``LOADERS_FAILPOINT_DIR=<folder>`` make the process, on
reaching that point, create ``<folder>/<name>.reached`` and wait until the file is removed
(or two minutes pass): the test then kills the process, terminates its database session or
restarts the server, and lets it go on. Unset (always, outside the tests) a point costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

WAIT_SECONDS = 120.0
_passed: set[str] = set()


def reached(name: str) -> None:
    """Stop here the first time this process reaches ``name``, if it is the chosen failpoint."""
    if os.environ.get("LOADERS_FAILPOINT") != name or name in _passed:
        return
    _passed.add(name)
    marker = Path(os.environ.get("LOADERS_FAILPOINT_DIR", ".")) / f"{name.replace(':', '-')}.reached"
    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + WAIT_SECONDS
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
