"""DAG parse time of ``dags/etl_pipeline.py``, the way Airflow's DAG processor pays it.

Airflow itself is already imported in the DAG processor, so what a DAG file costs is its own
import minus Airflow's: in each of several fresh Python processes we time a bare
``import airflow.sdk``, then the import of the DAG file (Cosmos, reading the dbt manifest,
building the tasks), and report the median of the difference. One more process splits the DAG
file's time into importing Cosmos and running the file's body.

    python bench/dag_parse.py [--runs 7] [--check]

``--check`` exits 1 when the median is above the target (0.2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DAG_FILE = PROJECT_DIR / "dags" / "etl_pipeline.py"
TARGET_SECONDS = 0.2

PROBE = r"""
import importlib.util, json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
if sys.argv[2] == "split":
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    import cosmos.constants
t2 = time.perf_counter()
spec = importlib.util.spec_from_file_location("etl_pipeline_bench", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t3 = time.perf_counter()
assert module.dag.dag_id == "etl_pipeline" and len(module.dag.tasks) > 1
print(json.dumps({"sdk": t1 - t0, "cosmos": t2 - t1, "body": t3 - t2, "tasks": len(module.dag.tasks)}))
"""


def probe(env: dict[str, str], mode: str = "whole") -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(DAG_FILE), mode],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise SystemExit(f"importing {DAG_FILE} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="fresh processes to time (after one warm-up)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 above the target ({TARGET_SECONDS} s)")
    args = parser.parse_args()
    if not (PROJECT_DIR / "dbt_project" / "target" / "manifest.json").exists():
        raise SystemExit("dbt_project/target/manifest.json is missing: run `make manifest`")

    with tempfile.TemporaryDirectory(prefix="dag-parse-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")}
        env.update(
            {
                "PYTHONPATH": str(PROJECT_DIR),
                "AIRFLOW_HOME": home,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
                "AIRFLOW__COSMOS__CACHE_DIR": str(Path(home) / "cosmos"),
                # parsing must not reach any database: point the services nowhere
                "WAREHOUSE_HOST": "192.0.2.1",
                "SHOP_HOST": "192.0.2.1",
            }
        )
        probe(env)  # warm-up: the OS file cache, Airflow's config file in the new home
        runs = [probe(env) for _ in range(args.runs)]
        split = probe(env, "split")

    sdk = [r["sdk"] for r in runs]
    parse = [r["body"] for r in runs]
    median = statistics.median(parse)
    print(
        f"DAG parse time of {DAG_FILE.relative_to(PROJECT_DIR)} ({runs[0]['tasks']} tasks), {args.runs} fresh processes"
    )
    print(
        f"  import airflow.sdk alone:   median {statistics.median(sdk):.2f} s  (min {min(sdk):.2f}, max {max(sdk):.2f})"
    )
    print(
        f"  the DAG file on top of it:  median {median:.2f} s  (min {min(parse):.2f}, max {max(parse):.2f})"
    )
    print(
        f"    of which import cosmos:   {split['cosmos']:.2f} s; the file's body (manifest -> tasks): {split['body']:.2f} s"
    )
    verdict = "OK" if median <= TARGET_SECONDS else "ABOVE TARGET"
    print(f"DAG parse time: {median:.3f} s (target <= {TARGET_SECONDS} s): {verdict}")
    return 1 if args.check and median > TARGET_SECONDS else 0


if __name__ == "__main__":
    sys.exit(main())
