"""When a delivered file may replace a day: the rule every interactions load applies.

A day is replaced only by a file that is plausibly the whole day. A file is refused, and the
day already landed (lake and raw) stays exactly as it was, when:

1. it has **no valid row** (a header-only file, or every line broken: a wrong delimiter, a
   truncated upload, one giant line);
2. more than ``max_reject_fraction`` of its lines are broken, once at least
   :data:`MIN_REJECTS` lines are (so a ten-line file with two typos is quarantined line by
   line, but forty broken lines among three good ones are refused);
3. the day is already landed and the file's valid rows are fewer than
   :data:`MIN_KEEP_FRACTION` of the valid rows landed before (a partial re-delivery).

``allow_shrink`` (``--allow-shrink``) lifts rules 1 and 3 for a day that really is smaller,
never rule 2. Guard values are checked: a fraction must be a number from 0 to 1 (``nan``,
``inf`` or ``1.5`` are refused, not silently disabling the guard).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from loaders.errors import BadInputError, LoaderError

MIN_REJECTS = 10
MIN_KEEP_FRACTION = 0.5
DEFAULT_MAX_REJECT_FRACTION = 0.10


def fraction(value: object, name: str = "--max-reject-fraction") -> float:
    """``value`` as a share from 0 to 1, or a clear error."""
    try:
        number = float(value)  # type: ignore[arg-type]  # str, int or float; anything else is refused below
    except (TypeError, ValueError):
        raise LoaderError(f"{name} {value!r} is not a number: give a share from 0 to 1, e.g. 0.1") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise LoaderError(f"{name} {value!r} is out of range: give a share from 0 to 1, e.g. 0.1")
    return number


def fraction_argument(value: str) -> float:
    """argparse ``type=`` for a share from 0 to 1."""
    try:
        return fraction(value)
    except LoaderError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--max-reject-fraction ")) from None


@dataclass(frozen=True)
class DayGuard:
    max_reject_fraction: float = DEFAULT_MAX_REJECT_FRACTION
    allow_shrink: bool = False

    def __post_init__(self) -> None:
        fraction(self.max_reject_fraction)

    def check(
        self,
        where: str,
        *,
        valid: int,
        rejected: int,
        previous_valid: int | None,
        first_reject: str | None = None,
    ) -> None:
        """Raise BadInputError (nothing is replaced) unless the file may replace the day."""
        read = valid + rejected
        if rejected >= MIN_REJECTS and rejected > self.max_reject_fraction * read:
            raise BadInputError(
                f"{where}: {rejected:,} of {read:,} lines are broken (limit {self.max_reject_fraction:.0%})"
                f"{f', first {first_reject}' if first_reject else ''}; fix the file (delimiter? encoding?) "
                "and load it again; the day already landed is unchanged"
            )
        if self.allow_shrink:
            return
        if valid == 0:
            raise BadInputError(
                f"{where}: no valid row ({read:,} lines); a file with no data does not replace a day. "
                "Deliver the whole day, or pass --allow-shrink if the day really is empty"
            )
        if previous_valid and valid < MIN_KEEP_FRACTION * previous_valid:
            raise BadInputError(
                f"{where}: {valid:,} valid rows, fewer than {MIN_KEEP_FRACTION:.0%} of the {previous_valid:,} "
                "already landed for the day; a partial file does not replace a day. Deliver the whole "
                "day, or pass --allow-shrink to replace it with this smaller one"
            )
