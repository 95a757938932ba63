"""Part 2 of bench_dag_generation.py: a real ``airflow dag-processor`` on W workflows, one file vs N shards.

Each configuration gets its own AIRFLOW_HOME (SQLite Airflow DB, a copy of the seeded plugin DB) and runs
``airflow dag-processor --num-runs 1`` twice: the first cycle after a start (the loader validates every
spec in full and Airflow writes every serialized DAG), then a second, steady one. Per-file durations and
processor timeouts come from Airflow's own StatsD metrics (``dag_processing.last_duration``), received on
127.0.0.1; the CPU of the whole process tree per cycle from ``getrusage(RUSAGE_CHILDREN)``.
"""

from __future__ import annotations

import re
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "airflow_config"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))  # the StatsD stand-in the e2e tests use


def one_config(work: Path, w: int, files: int, access_control: bool = True) -> dict[str, Any]:
    from stack import AirflowStack
    from statsd_sink import StatsdSink

    from airflow_mlops_dag_factory.shards import write_shard_files

    home = work / f"processor_{w}_{files}{'' if access_control else '_noacl'}"
    subprocess.run(["rm", "-rf", str(home)], check=True)
    (home / "dags").mkdir(parents=True)
    src, dst = sqlite3.connect(work / f"mlops_{w}.db"), sqlite3.connect(home / "mlops.db")
    src.backup(dst)
    src.close()
    dst.close()
    main_file = home / "dags" / "mlops_workflows.py"
    main_file.write_text((REPO / "dags" / "mlops_workflows.py").read_text())
    write_shard_files(main_file, files)
    sink = StatsdSink()
    stack = AirflowStack(home, secrets_={"AIRFLOW__API__SECRET_KEY": "bench-secret-key",
                                         "AIRFLOW__API_AUTH__JWT_SECRET": "bench-jwt-secret-0123456789"},
                         overrides={"AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
                                    "AIRFLOW__MLOPS__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'mlops.db'}",
                                    "AIRFLOW__MLOPS__DAG_FILE_SHARDS": str(files),
                                    "AIRFLOW__MLOPS__DAG_ACCESS_CONTROL": str(access_control), **sink.env()})
    stack.migrate()
    settings = {key: stack.run_command([sys.executable, "-c", (f"from airflow.configuration import conf; "
                                        f"print(conf.get('{sec}', '{opt}'))")]).stdout.strip()
                for key, (sec, opt) in {"dagbag_import_timeout": ("core", "dagbag_import_timeout"),
                                        "dag_file_processor_timeout": ("dag_processor", "dag_file_processor_timeout"),
                                        "parsing_processes": ("dag_processor", "parsing_processes")}.items()}
    cycles = []
    for label in ("first", "steady"):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        mark = len(sink.lines)
        started = time.perf_counter()
        stack.run_command(["airflow", "dag-processor", "--num-runs", "1"], timeout=3600)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        durations: dict[str, float] = {}
        timeouts = 0
        for line in sink.lines[mark:]:
            # Airflow passes seconds to the StatsD client, which sends them as the number before "|ms"
            if m := re.match(r"airflow\.dag_processing\.last_duration\.([\w.-]+):([\d.]+)\|ms", line):
                durations[m.group(1)] = float(m.group(2))
            timeouts += line.startswith("airflow.dag_processing.processor_timeouts")
        with sqlite3.connect(home / "airflow.db") as conn:
            # every row, stale or not: the processor marks DAGs stale when it exits after its runs
            per_file = dict(conn.execute("SELECT relative_fileloc, count(*) FROM dag GROUP BY relative_fileloc"))
            serialized = conn.execute("SELECT count(*) FROM serialized_dag").fetchone()[0]
        cycles.append({"cycle": label, "wall_s": wall,
                       "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
                       "file_seconds": durations, "processor_timeouts": timeouts,
                       "dags_per_file": per_file, "serialized_dags": serialized})
        print(f"processor W={w} files={files} {label}: wall {wall:.0f} s, cpu {cycles[-1]['cpu_s']:.0f} s, "
              f"max file {max(durations.values(), default=0):.1f} s, timeouts {timeouts}, "
              f"DAGs {sum(per_file.values())}", flush=True)
    time.sleep(1)  # the last UDP lines
    sink.stop()
    return {"files": files, "access_control": access_control, "settings": settings, "cycles": cycles}


def processor_runs(work: Path, w: int, files: list[int], access_control: bool = True, label: str = "") -> dict[str, Any]:
    """One dag-processor configuration per entry of ``files`` (1 = everything in one file)."""
    return {"workflows": w, "runs": [{**one_config(work, w, n, access_control), **({"label": label} if label else {})}
                                     for n in files]}
