"""History at scale: listing versions and diffing two of them, 1,000 versions vs a 50-version baseline.

Runs the real services on a real SQLite plugin database (and a throw-away Airflow database for the
parse requests). Reports medians and the ratio to the baseline measured in the same run; asserts nothing.
Usage: python bench/bench_versions.py [--versions 1000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOME = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
os.environ.update({
    "AIRFLOW_HOME": str(HOME),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME / 'airflow.db'}",
    "AIRFLOW__MLOPS__SQL_ALCHEMY_CONN": f"sqlite:///{HOME / 'mlops.db'}",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
})


def make_workflow(name: str, versions: int):
    from airflow_mlops.services import workflows
    from airflow_mlops.services.actors import Actor

    actor = Actor.system("bench")
    tasks = [{"name": f"t{i}", "code": f"x = {i}\nreturn x * 2", "depends_on": [f"t{i - 1}"] if i else []}
             for i in range(20)]
    record = workflows.create_workflow({"name": name, "tasks": tasks}, actor)
    for n in range(2, versions + 1):
        tasks[n % 20] = {**tasks[n % 20], "code": f"x = {n % 20}\nreturn x * 2  # save {n}"}
        record = workflows.update_workflow(record.id, {"name": name, "tasks": tasks}, actor)
    return record


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], check=True, capture_output=True)
    from airflow_mlops.services import workflows

    start = time.perf_counter()
    big = make_workflow("bench_big", args.versions)
    build_seconds = time.perf_counter() - start
    small = make_workflow("bench_small", 50)  # one full page: both sides return the same number of rows
    rows = []
    for label, fn_big, fn_small in (
        ("list newest 50 versions", lambda: workflows.list_versions(big.id, limit=50),
         lambda: workflows.list_versions(small.id, limit=50)),
        ("list the oldest page", lambda: workflows.list_versions(big.id, limit=50, offset=args.versions - 50),
         lambda: workflows.list_versions(small.id, limit=50, offset=0)),
        ("diff first vs last version", lambda: workflows.diff_versions(big.id, 1, args.versions),
         lambda: workflows.diff_versions(small.id, 1, 50)),
    ):
        big_s, small_s = timed(fn_big, args.repeat), timed(fn_small, args.repeat)
        rows.append({"operation": label, "median_ms_1000": round(big_s * 1000, 2),
                     "median_ms_baseline_50": round(small_s * 1000, 2), "ratio": round(big_s / small_s, 2)})
    result = {"versions": args.versions, "seconds_to_write_history": round(build_seconds, 1), "rows": rows}
    out = Path(__file__).parent / "results" / "versions.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.versions} versions written in {build_seconds:.1f} s ({build_seconds / args.versions * 1000:.1f} ms/save)")
    print(f"{'operation':32} {'1000 versions':>14} {'50 versions':>12} {'ratio':>6}")
    for row in rows:
        print(f"{row['operation']:32} {row['median_ms_1000']:>12} ms {row['median_ms_baseline_50']:>9} ms {row['ratio']:>6}")


if __name__ == "__main__":
    main()
