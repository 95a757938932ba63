"""DAG generation at scale: the plugin's DAG file vs a hand-written floor vs astronomer's dag-factory.

The plugin is measured twice: ``plugin``, its DAG file in a plain dags folder (each workflow's current
version, as before the MLOps DAG bundle), and ``plugin-bundle``, the same file in the MLOps DAG bundle
(every workflow as of the bundle's revision; a worker builds from a version's folder).

For W workflows of 10 tasks (a chain with a 4-way fan-out, 3 typed params) seeded through the plugin's
services, each variant's DAG file is parsed the way Airflow 3.3's dag-processor does it, in a fresh
process per repetition (variants interleaved so machine noise hits all alike): the DagBag fill
(``BundleDagBag``, after the manager's pre-import of the file's ``airflow.*`` imports) and, separately,
``_serialize_dags`` (``DagSerialization.to_dict`` per DAG), plus the child's peak RSS. The worker-side
parse (parsing context = one dag_id) is timed the same way. With ``--processor`` a real
``airflow dag-processor`` parses W workflows as 1 file and as N shards. Asserts nothing.
Usage: python bench/bench_dag_generation.py [--ws 10,100,1000,10000] [--repeat 5] [--processor]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("MLOPS_BENCH_WORK", "/tmp/mlops-bench-dag-generation"))
RESULTS = Path(__file__).parent / "results" / "dag_generation.json"
VARIANTS = ("plugin", "plugin-bundle", "floor", "dagfactory")
BUNDLE = "dags-folder"
FAN_OUT = ("train_a", "train_b", "train_c", "train_d")


def base_env(home: Path) -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "3600",  # measure, never cut; compared with the default below
        "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",  # no network from dag-factory
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "1",
    }


# -- the workload --------------------------------------------------------------------------------------

def workflow_document(i: int) -> dict[str, Any]:
    """10 tasks: extract -> clean -> features -> 4 trainings in parallel -> select -> evaluate -> publish."""
    chain = ["extract", "clean", "features"]
    deps: dict[str, list[str]] = {"extract": [], "clean": ["extract"], "features": ["clean"]}
    deps |= {t: ["features"] for t in FAN_OUT}
    deps |= {"select": list(FAN_OUT), "evaluate": ["select"], "publish": ["evaluate"]}
    names = [*chain, *FAN_OUT, "select", "evaluate", "publish"]
    tasks = [{"name": n, "depends_on": deps[n],
              "code": f"rows = params['n_rows'] + {i}\nif params['mode'] == 'full':\n    rows *= 2\n"
                      f"return {{'task': '{n}', 'dataset': params['dataset'], 'rows': rows}}"}
             for n in names]
    return {
        "name": f"bench_wf_{i:05d}", "description": f"benchmark workflow {i}", "schedule": "@daily",
        "tags": ["bench"], "owner": "bench", "retries": 1,
        "params": {
            "n_rows": {"type": "integer", "default": 100, "minimum": 1, "maximum": 1_000_000,
                       "description": "rows to read"},
            "dataset": {"type": "string", "default": "iris", "required": True},
            "mode": {"type": "enum", "enum": ["fast", "full"], "default": "fast"},
        },
        "tasks": tasks,
    }


def seed(ws: list[int]) -> None:
    """Create max(ws) workflows through the services; snapshot the plugin DB after each W in ``ws``."""
    home = WORK / "seed"
    wanted = [w for w in ws if not (WORK / f"mlops_{w}.db").exists()]
    if not wanted:
        return
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ.update(base_env(home))
    os.environ["AIRFLOW__MLOPS__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'mlops.db'}"
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True)
    from airflow_mlops.services import workflows
    from airflow_mlops.services.actors import Actor

    actor = Actor.system("bench")
    started, done = time.perf_counter(), 0
    for w in sorted(wanted):
        for i in range(done, w):
            workflows.create_workflow(workflow_document(i), actor)
        done = w
        src, dst = sqlite3.connect(home / "mlops.db"), sqlite3.connect(WORK / f"mlops_{w}.db")
        src.backup(dst)
        src.close()
        dst.close()
        print(f"seeded {w} workflows through the services ({time.perf_counter() - started:.0f} s so far)", flush=True)


def stored_workflows(w: int) -> list[tuple[str, int, dict[str, Any]]]:
    """(workflow id, version, spec) as stored: the floor and dag-factory files embed exactly these."""
    conn = sqlite3.connect(WORK / f"mlops_{w}.db")
    rows = conn.execute("SELECT w.id, v.number, v.spec FROM mlops_workflow w JOIN mlops_workflow_version v "
                        "ON v.workflow_id = w.id AND v.number = w.current_version ORDER BY w.name").fetchall()
    conn.close()
    return [(wid, number, json.loads(spec)) for wid, number, spec in rows]


# -- the three DAG files ----------------------------------------------------------------------------------

FLOOR_TEMPLATE = '''"""Hand-written floor: the same DAGs as the plugin's, built from an in-memory list (airflow DAG)."""
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Param, get_parsing_context

ACCESS = {"Viewer": {"DAGs": {"can_read"}, "DAG Runs": {"can_read"}},
          "User": {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}},
          "Op": {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}}}
START = pendulum.datetime(2024, 1, 1, tz="UTC")


def run_task(workflow_id, task_name, built_version, **context):
    return None


WORKFLOWS = __WORKFLOWS__
only = get_parsing_context().dag_id
for wid, version, name, description, doc, schedule, tags, params, tasks in WORKFLOWS:
    if only is not None and name != only:
        continue
    dag = DAG(dag_id=name, description=description, doc_md=doc, schedule=schedule, start_date=START,
              catchup=False, tags=tags,
              params={k: Param(d, description=desc, **s) for k, (d, desc, s) in params.items()},
              default_args={"owner": "bench", "retries": 1, "retry_delay": timedelta(seconds=300)},
              is_paused_upon_creation=False, access_control=ACCESS)
    ops = {}
    for task_id, deps, task_doc in tasks:
        ops[task_id] = PythonOperator(dag=dag, task_id=task_id, python_callable=run_task, doc_md=task_doc,
                                      op_kwargs={"workflow_id": wid, "task_name": task_id, "built_version": version})
        for dep in deps:
            ops[dep] >> ops[task_id]
    globals()[name] = dag
'''

DAGFACTORY_FILE = '''"""astronomer dag-factory: the same DAGs from YAML (airflow DAG)."""
from pathlib import Path

from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), config_filepath=str(Path(__file__).with_name("dagfactory_dags.yml")))
'''


def floor_entry(wid: str, version: int, spec: dict[str, Any]) -> tuple:
    from airflow_mlops_dag_factory.build import _code_block, _dag_doc
    from airflow_mlops_dag_factory.params import param_schema
    from airflow_mlops_dag_factory.spec import WorkflowSpec
    from airflow_mlops_dag_factory.store import StoredWorkflow

    parsed = WorkflowSpec.model_validate(spec)
    params = {n: (p.default, p.description or None, param_schema(p)) for n, p in parsed.params.items()}
    tasks = [(t.name, list(t.depends_on), f"{t.description}\n\n{_code_block(t.code)}") for t in parsed.tasks]
    doc = _dag_doc(StoredWorkflow(wid, version, True, parsed))
    return (wid, version, parsed.name, parsed.description, doc, parsed.schedule, sorted({"mlops", *parsed.tags}),
            params, tasks)


def dagfactory_entry(wid: str, version: int, spec: dict[str, Any]) -> dict[str, Any]:
    """dag-factory passes ``params`` to the DAG as plain defaults (it has no typed Param syntax)."""
    return {
        "description": spec["description"], "schedule": spec["schedule"], "start_date": "2024-01-01",
        "catchup": False, "tags": sorted({"mlops", *spec["tags"]}), "is_paused_upon_creation": False,
        "default_args": {"owner": spec["owner"], "retries": spec["retries"], "retry_delay_sec": 300},
        "params": {k: p["default"] for k, p in spec["params"].items()},
        "tasks": {t["name"]: {"operator": "airflow.providers.standard.operators.python.PythonOperator",
                              "python_callable": "bench_callables.run_task",
                              "op_kwargs": {"workflow_id": wid, "task_name": t["name"], "built_version": version},
                              "doc_md": f"```python\n{t['code']}\n```",
                              **({"dependencies": t["depends_on"]} if t["depends_on"] else {})}
                  for t in spec["tasks"]},
    }


def write_files(w: int) -> dict[str, Path]:
    """One folder (bundle) per variant and W; returns the DAG file of each variant."""
    import yaml

    root = WORK / f"files_{w}"
    files = {v: root / v / name for v, name in
             (("plugin", "mlops_workflows.py"), ("plugin-bundle", "tracking/mlops_workflows.py"),
              ("floor", "floor_dags.py"), ("dagfactory", "dagfactory_dags.py"))}
    if all(f.exists() for f in files.values()):
        write_plugin_files(w, files)  # always the current DAG file
        return files
    shutil.rmtree(root, ignore_errors=True)
    for f in files.values():
        f.parent.mkdir(parents=True)
    write_plugin_files(w, files)
    stored = stored_workflows(w)
    files["floor"].write_text(FLOOR_TEMPLATE.replace("__WORKFLOWS__", repr([floor_entry(*s) for s in stored])))
    files["dagfactory"].write_text(DAGFACTORY_FILE)
    (root / "dagfactory" / "bench_callables.py").write_text(
        "def run_task(workflow_id, task_name, built_version, **context):\n    return None\n")
    (root / "dagfactory" / "dagfactory_dags.yml").write_text(
        yaml.safe_dump({s[2]["name"]: dagfactory_entry(*s) for s in stored}, sort_keys=False))
    return files


def write_plugin_files(w: int, files: dict[str, Path]) -> None:
    """The DAG file in a plain folder, and as the MLOps bundle has it: its tracking folder and a version's
    folder (what a worker builds from), both at the store's revision."""
    from airflow_mlops_dag_factory.bundle import DAG_FILE_SOURCE, MARKER

    shutil.copy(REPO / "dags" / "mlops_workflows.py", files["plugin"])
    conn = sqlite3.connect(WORK / f"mlops_{w}.db")
    head = conn.execute("SELECT value FROM mlops_store_revision WHERE id = 1").fetchone()[0]
    conn.close()
    for folder in (files["plugin-bundle"].parent, bundle_worker_file(files).parent):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "mlops_workflows.py").write_text(DAG_FILE_SOURCE)
        (folder / MARKER).write_text(f"{head}\n")


def bundle_worker_file(files: dict[str, Path]) -> Path:
    """The bundle's version folder (``versions/<revision>``), named after the tracking folder's revision."""
    from airflow_mlops_dag_factory.bundle import MARKER

    tracking = files["plugin-bundle"].parent
    revision = (tracking / MARKER).read_text().strip() if (tracking / MARKER).exists() else "0"
    return tracking.parent / "versions" / revision / "mlops_workflows.py"


# -- the measured child --------------------------------------------------------------------------------------

def child(file: Path, mode: str, serialize: bool) -> dict[str, Any]:
    """Parse ``file`` as the dag-processor's parse subprocess (mode parse) or a worker (mode worker) does.

    The dag-processor's manager imports the file's ``airflow.*`` imports before it forks the parse; a
    worker's task process has only the task runner loaded when it imports the DAG file.
    """
    import logging

    import structlog
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.dag_processing.processor import _pre_import_airflow_modules, _serialize_dags

    log = structlog.get_logger()
    if mode in ("parse", "worker-warm"):
        _pre_import_airflow_modules(str(file), log)
    else:
        import airflow.sdk.execution_time.task_runner  # noqa: F401
    if mode == "worker-warm" and file.name == "mlops_workflows.py":  # what is left: load one row, build one DAG
        import airflow_mlops_dag_factory.build  # noqa: F401
    os.environ["_AIRFLOW_PROCESS_CONTEXT"] = "client"
    logging.getLogger("airflow.models.dagbag").setLevel(logging.ERROR)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0, t0 = time.process_time(), time.perf_counter()
    if mode.startswith("worker") and file.parent.parent.name == "versions":  # the worker initialises the bundle
        from airflow_mlops_dag_factory.bundle import MLOpsDagBundle

        os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH"] = str(file.parents[3])
        MLOpsDagBundle(name=file.parents[2].name, version=file.parent.name).initialize()
    bag = BundleDagBag(dag_folder=str(file), bundle_path=file.parent, bundle_name=BUNDLE, load_op_links=False,
                       **({"safe_mode": False} if mode.startswith("worker") else {}))
    t1, cpu1 = time.perf_counter(), time.process_time()
    serialized, errors = _serialize_dags(bag, log) if serialize else ([], {})
    t2 = time.perf_counter()
    return {"parse_s": t1 - t0, "parse_cpu_s": cpu1 - cpu0, "serialize_s": t2 - t1, "dags": len(bag.dags),
            "serialized": len(serialized), "import_errors": len(bag.import_errors) + len(errors),
            "rss_before_mb": rss_before / 1024,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(w: int, variant: str, file: Path, mode: str, dag_id: str | None = None,
              serialize: bool = False) -> dict[str, Any]:
    home = WORK / f"home_{w}"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    env |= base_env(home)
    env["AIRFLOW__MLOPS__SQL_ALCHEMY_CONN"] = f"sqlite:///{WORK / f'mlops_{w}.db'}"
    env["AIRFLOW__MLOPS__CACHE_DIR"] = str(home / "cache")
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(file.parent)
    if dag_id:
        env["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = dag_id
    out = subprocess.run([sys.executable, __file__, "--child", str(file), "--mode", mode,
                          *(["--serialize"] if serialize else [])], env=env,
                         capture_output=True, text=True, check=False, timeout=7200)
    if out.returncode:
        raise RuntimeError(f"{variant} W={w} child failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    expected = 1 if mode.startswith("worker") else w
    if result["dags"] != expected or result["import_errors"]:
        raise RuntimeError(f"{variant} W={w}: {result['dags']} DAGs (want {expected}), errors: {out.stderr[-2000:]}")
    return result


# -- statistics and driver ----------------------------------------------------------------------------------

def summary(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def wait_for_quiet(limit_s: float, threshold: float = 1.0) -> float:
    """Wait (up to ``limit_s``) until the 1-minute load average is below ``threshold``; returns it."""
    deadline = time.monotonic() + limit_s
    while os.getloadavg()[0] >= threshold and time.monotonic() < deadline:
        time.sleep(10)
    return os.getloadavg()[0]


def measure(ws: list[int], repeat: int, repeat_big: int, serialize_reps: int,
            variants: tuple[str, ...], save: Any, worker_reps: int = 15) -> dict[str, Any]:
    """Interleaved fresh-process parses; serialization (Airflow's, ~the same per DAG for every variant and
    by far the slowest part) in the first ``serialize_reps`` repetitions, at W >= 10,000 once, plugin only."""
    rows: dict[str, Any] = {}
    for w in ws:
        files = write_files(w)
        n = repeat if w < 10_000 else repeat_big
        samples: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        shutil.rmtree(WORK / f"home_{w}" / "cache", ignore_errors=True)
        cold: dict[str, float] = {}
        for v in variants:  # warm-up (bytecode and OS caches; the plugin's first, fully validating parse)
            cold[v] = run_child(w, v, files[v], "parse")["parse_s"]
        loads = []
        for rep in range(n):
            for v in variants:  # interleaved
                loads.append(os.getloadavg()[0])
                serialize = rep < (serialize_reps if w < 10_000 else min(serialize_reps, 1) if v == "plugin" else 0)
                samples[v].append(run_child(w, v, files[v], "parse", serialize=serialize))
        worker: dict[str, dict[str, list[float]]] = {v: {"worker": [], "worker-warm": []}
                                                     for v in ("plugin", "plugin-bundle", "floor") if v in variants}
        worker_files = {**files, "plugin-bundle": bundle_worker_file(files)}
        target = f"bench_wf_{w // 2:05d}"
        for _ in range(worker_reps):  # ~10 ms each: enough of them that one slow start moves no median
            for v, modes in worker.items():
                for mode, times in modes.items():
                    times.append(run_child(w, v, worker_files[v], mode, dag_id=target)["parse_s"])
        row: dict[str, Any] = {"repetitions": n, "worker_repetitions": worker_reps, "load_1min": summary(loads)}
        for v in variants:
            s = samples[v]
            row[v] = {key: summary([x[key] for x in s]) for key in ("parse_s", "parse_cpu_s", "rss_before_mb")}
            with_serialization = [x for x in s if x["serialized"]]
            for key in ("serialize_s", "peak_rss_mb"):
                row[v][key] = summary([x[key] for x in with_serialization]) if with_serialization else None
            row[v]["peak_rss_parse_only_mb"] = summary([x["peak_rss_mb"] for x in s if not x["serialized"]] or [0])
            row[v]["serialize_repetitions"] = len(with_serialization)
            row[v]["first_parse_s"] = cold[v]
            row[v]["parse_ms_per_workflow"] = row[v]["parse_s"]["median"] / w * 1000
        for v, modes in worker.items():
            row[v]["worker_parse_s"] = summary(modes["worker"])
            row[v]["worker_parse_warm_s"] = summary(modes["worker-warm"])
        if {"plugin", "floor"} <= set(variants):
            row["ratio_parse_plugin_over_floor"] = (row["plugin"]["parse_s"]["median"]
                                                    / row["floor"]["parse_s"]["median"])
        if {"plugin", "plugin-bundle"} <= set(variants):  # the bundle's cost over the plain DAG file, same run
            row["ratio_bundle_over_plain"] = {
                key: row["plugin-bundle"][key]["median"] / row["plugin"][key]["median"]
                for key in ("parse_s", "parse_cpu_s", "worker_parse_s", "worker_parse_warm_s")}
        if {"plugin", "dagfactory"} <= set(variants):
            row["ratio_parse_dagfactory_over_plugin"] = (row["dagfactory"]["parse_s"]["median"]
                                                         / row["plugin"]["parse_s"]["median"])
        rows[str(w)] = row
        print_row(w, row, variants)
        save(w, row)
    return rows


def print_row(w: int, row: dict[str, Any], variants: tuple[str, ...]) -> None:
    for v in variants:
        r = row[v]
        worker = (f" worker {r['worker_parse_s']['median'] * 1000:.0f} ms (warm "
                  f"{r['worker_parse_warm_s']['median'] * 1000:.0f} ms)" if "worker_parse_s" in r else "")
        ser = f"{r['serialize_s']['median']:7.3f} s" if r["serialize_s"] else "-"
        print(f"W={w:>6} {v:10} parse {r['parse_s']['median']:8.3f} s ({r['parse_ms_per_workflow']:.2f} ms/wf)"
              f" first {r['first_parse_s']:.2f} s serialize {ser} peak {r['peak_rss_parse_only_mb']['median']:6.0f} MB"
              f"{worker}", flush=True)
    if "ratio_bundle_over_plain" in row:
        print(f"W={w:>6} bundle/plain " + "  ".join(f"{k} {v:.3f}" for k, v in row["ratio_bundle_over_plain"].items()),
              flush=True)
    print(f"W={w:>6} plugin/floor {row.get('ratio_parse_plugin_over_floor', 0):.2f}"
          f"  dagfactory/plugin {row.get('ratio_parse_dagfactory_over_plugin', 0):.2f}"
          f"  load {row['load_1min']['median']:.2f}", flush=True)


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "airflow": version("apache-airflow"),
            "dag_factory": version("dag-factory"), "sqlalchemy": version("sqlalchemy")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ws", default="10,100,1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--repeat-big", type=int, default=2)
    parser.add_argument("--serialize-reps", type=int, default=2)
    parser.add_argument("--worker-reps", type=int, default=15, help="fresh worker processes per variant and mode")
    parser.add_argument("--serialize", action="store_true")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--processor", action="store_true", help="also run a real dag-processor (part 2)")
    parser.add_argument("--shards", type=int, default=64, help="shard files of the second processor run")
    parser.add_argument("--processor-files", help="comma-separated file counts to run (default: 1,<shards>)")
    parser.add_argument("--no-access-control", action="store_true", help="[mlops] dag_access_control = False")
    parser.add_argument("--processor-append", metavar="LABEL",
                        help="add these processor runs, labelled, to the recorded ones instead of replacing them")
    parser.add_argument("--processor-w", type=int, default=10_000)
    parser.add_argument("--wait-quiet", type=float, default=600, help="seconds to wait for load < 1.0")
    parser.add_argument("--child")
    parser.add_argument("--mode", default="parse")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child), args.mode, args.serialize)))
        return
    ws = [int(x) for x in args.ws.split(",")]
    WORK.mkdir(parents=True, exist_ok=True)
    seed(sorted({*ws, *([args.processor_w] if args.processor else [])} - {0}))
    result: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    appending = args.processor_append and ws == [0]  # the other sections keep the machine they were measured on
    here = {"machine": machine(), "load_at_start": wait_for_quiet(args.wait_quiet)}
    if not appending:
        result.update(here)
    RESULTS.parent.mkdir(exist_ok=True)

    def save(w: int, row: dict[str, Any]) -> None:  # after each W: a long run that fails keeps what it measured
        result.setdefault("sizes", {})[str(w)] = row
        result["load_at_end"] = os.getloadavg()[0]
        RESULTS.write_text(json.dumps(result, indent=2, default=float) + "\n")

    if ws != [0]:
        measure(ws, args.repeat, args.repeat_big, args.serialize_reps, tuple(args.variants.split(",")), save,
                args.worker_reps)
    if args.processor:
        from bench_dag_processor import processor_runs

        files = [int(n) for n in (args.processor_files or f"1,{args.shards}").split(",")]
        runs = processor_runs(WORK, args.processor_w, files, not args.no_access_control, args.processor_append or "")
        if appending:
            runs["runs"] = [{**run, **here} for run in runs["runs"]]
        if args.processor_append and result.get("processor", {}).get("workflows") == args.processor_w:
            runs["runs"] = result["processor"]["runs"] + runs["runs"]
        result["processor"] = runs
        save(0, result["sizes"].get("0", {}))
        result["sizes"].pop("0", None)
        RESULTS.write_text(json.dumps(result, indent=2, default=float) + "\n")
    from dag_generation_report import main as report

    report()
    print(f"results in {RESULTS}")


if __name__ == "__main__":
    main()
