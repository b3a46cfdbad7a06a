"""DAG parse time of ``dags/etl_pipeline.py``, the way Airflow's DAG processor pays it.

What a DAG file costs is its own import minus what the parsing process already holds. Airflow's
DAG processor parses each file in a fork of its manager, which has imported
``airflow.dag_processing.processor`` (and with it Airflow's models: task instances, DAG runs,
variables); Cosmos imports those same modules, so a bare ``import airflow.sdk`` baseline charges
the DAG file for Airflow's own models. In each of several fresh Python processes we time:

  (p) as the DAG processor pays it: ``import airflow.sdk`` and ``airflow.dag_processing.manager``
      first, then ``gc.freeze()``, then the DAG file (the target, 0.2 s, applies to this one);
  (s) above a bare ``import airflow.sdk`` only: the DAG file then also pays Airflow's models.

One more process splits (p) into importing Cosmos and running the file's body (reading the dbt
manifest, building the tasks).

    python bench/dag_parse.py [--runs 7] [--check]

``--check`` exits 1 when the median of (p) is above the target.
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
sys.path.insert(0, str(PROJECT_DIR))

from scripts.airflow_env import airflow_env  # noqa: E402

DAG_FILE = PROJECT_DIR / "dags" / "etl_pipeline.py"
TARGET_SECONDS = 0.2

PROBE = r"""
import importlib.util, json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
if sys.argv[2] in ("processor", "split"):
    import gc
    import airflow.dag_processing.manager  # what a DAG processor's parsing fork holds
    gc.freeze()  # as the manager does before it forks a parser (dag_processing/manager.py)
t2 = time.perf_counter()
if sys.argv[2] == "split":
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    import cosmos.constants, cosmos.operators.watcher
t3 = time.perf_counter()
spec = importlib.util.spec_from_file_location("etl_pipeline_bench", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t4 = time.perf_counter()
assert module.dag.dag_id == "etl_pipeline" and len(module.dag.tasks) > 1
print(json.dumps({"sdk": t1 - t0, "processor": t2 - t1, "cosmos": t3 - t2, "body": t4 - t3,
                  "tasks": len(module.dag.tasks)}))
"""


def probe(env: dict[str, str], mode: str) -> dict[str, float]:
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
    timings: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return timings


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
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_")}
        # parsing must not reach any database: point the services nowhere
        env = airflow_env(Path(home), base | {"WAREHOUSE_HOST": "192.0.2.1", "SHOP_HOST": "192.0.2.1"})
        probe(env, "processor")  # warm-up: the OS file cache, Airflow's config file in the new home
        processor, bare = [], []
        for _ in range(args.runs):  # alternating, so both see the same machine
            processor.append(probe(env, "processor"))
            bare.append(probe(env, "bare"))
        split = probe(env, "split")

    def stats(values: list[float]) -> str:
        return f"median {statistics.median(values):.2f} s  (min {min(values):.2f}, max {max(values):.2f})"

    median = statistics.median(r["body"] for r in processor)
    print(
        f"DAG parse time of {DAG_FILE.relative_to(PROJECT_DIR)} ({processor[0]['tasks']} tasks), "
        f"{args.runs} fresh processes each"
    )
    print(f"  import airflow.sdk alone:                     {stats([r['sdk'] for r in bare])}")
    print(f"  then airflow.dag_processing.manager:          {stats([r['processor'] for r in processor])}")
    print(f"  (p) the DAG file, as the DAG processor pays it: {stats([r['body'] for r in processor])}")
    print(
        f"        of which Cosmos's imports {split['cosmos']:.2f} s, the file's body (manifest -> tasks) {split['body']:.2f} s"
    )
    print(f"  (s) the DAG file above a bare airflow.sdk:    {stats([r['body'] for r in bare])}")
    print(
        "        (s) - (p): Airflow's own models, which Cosmos imports and a DAG processor already holds (frozen)"
    )
    verdict = "OK" if median <= TARGET_SECONDS else "ABOVE TARGET"
    print(f"DAG parse time (p): {median:.3f} s (target <= {TARGET_SECONDS} s): {verdict}")
    return 1 if args.check and median > TARGET_SECONDS else 0


if __name__ == "__main__":
    sys.exit(main())
