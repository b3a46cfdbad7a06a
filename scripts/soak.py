"""Run the real DAG for one day again and again, as `make run` does, and fail on any hang.

Each run is ``python -m scripts.run_day`` (``airflow dags test`` of ``etl_pipeline``, the dbt
stage in the DAG's execution mode) with a deadline: a run that does not end in time is killed
(its whole process group) and counts as a hang. Prints one line per run and a summary; exits 1
unless every run succeeded in time.

    python -m scripts.soak --ds 2026-11-30 [--runs 20] [--timeout 600]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ds", required=True, help="the day (its CSV and shop data must exist: make sample)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds one run may take before it is a hang"
    )
    parser.add_argument("--logs", type=Path, default=PROJECT_DIR / ".local" / "logs" / "soak")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.timeout <= 0:
        parser.error("--runs must be >= 1 and --timeout > 0")
    args.logs.mkdir(parents=True, exist_ok=True)

    seconds: list[float] = []
    outcomes: dict[str, int] = {"success": 0, "failed": 0, "hang": 0}
    for i in range(1, args.runs + 1):
        log = args.logs / f"run{i:02d}.log"
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "scripts.run_day", "--ds", args.ds, "--log", str(log),
             "--timeout", str(args.timeout)],
            cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        elapsed = time.monotonic() - start
        if "and was stopped" in result.stdout:  # run_day ended it at its deadline
            outcome = "hang"
        else:
            outcome = "success" if result.returncode == 0 else "failed"
        outcomes[outcome] += 1
        seconds.append(elapsed)
        print(f"  run {i:2d}/{args.runs}: {outcome:7s} {elapsed:6.1f} s   (log: {log})", flush=True)
        if outcome != "success":
            print("    " + "\n    ".join(result.stdout.strip().splitlines()[-8:]), flush=True)

    print(
        f"== {args.runs} consecutive runs: {outcomes['success']} succeeded, {outcomes['failed']} failed, "
        f"{outcomes['hang']} hung; median {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s"
    )
    return 0 if outcomes["success"] == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
