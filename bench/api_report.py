"""Writes the rest-api section of bench/RESULTS.md from results/api.json and results/api_notes.md.

Usage: python bench/api_report.py   (bench_api.py calls it at the end)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dag_generation_report import mmm

HERE = Path(__file__).parent
START, END = "<!-- section: rest-api (owner: bench_api.py) -->", "<!-- end: rest-api -->"
AIRFLOW_LABELS = {
    "airflow list page": "Airflow `GET /api/v2/dags?limit=50&offset=..`",
    "airflow list search": "Airflow `GET /api/v2/dags?dag_id_pattern=..`",
    "airflow list tag": "Airflow `GET /api/v2/dags?tags=..`",
    "airflow get": "Airflow `GET /api/v2/dags/{id}`",
    "airflow trigger": "Airflow `POST /api/v2/dags/{id}/dagRuns`",
    "airflow jobs page": "Airflow `GET /api/v2/dags/~/dagRuns?limit=50&offset=..`",
    "airflow jobs state": "Airflow `GET /api/v2/dags/~/dagRuns?state=failed&..`",
    "airflow jobs workflow": "Airflow `GET /api/v2/dags/{id}/dagRuns`",
}


def section(r: dict[str, Any], notes: str) -> str:
    m, setup, table, targets = r["machine"], r["setup"], r["summary"], r["targets"]
    runs = (f"; then {setup['runs']:,} finished runs ({setup['plugin_run_records']:,} with a plugin record, 10 task "
            f"instances each) were written into both databases in {setup['seed_seconds_runs']:.0f} s"
            if setup.get("runs") else "")
    loads = ", ".join(f"{rep['loadavg_1m_before']:.2f}" for rep in r["reps"])
    out = [
        START,
        f"## 4. REST API with {setup['workflows']:,} workflows",
        "",
        f"**Machine**: {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM. **Versions**: Python {m['python']}, "
        f"Airflow {m['airflow']} (FAB provider {m['fab_provider']}, FabAuthManager), PostgreSQL "
        f"{m['postgresql'].split()[0]} for Airflow's and the plugin's databases, SQLAlchemy {m['sqlalchemy']}, "
        f"requests {m['requests']}.",
        "",
        f"**Setup**: {setup['workflows'] - 1:,} workflows of 10 tasks and one with {setup['versions_of_one']:,} "
        f"versions ({setup['tasks']:,} tasks), written through the plugin's services in "
        f"{setup['seed_seconds_create']:.0f} s + {setup['seed_seconds_history']:.0f} s; Airflow listed and had "
        f"serialized every DAG after {setup['dag_processor_seconds_to_list_all']} s{runs}. `[api] workers` = "
        f"{setup['api_workers']}. Latency: {setup['rounds']} back-to-back calls per operation "
        f"({setup['airflow_list_rounds']} for Airflow's listings), one client; *mixed*: "
        f"{setup['mixed_rounds']} rounds of all operations interleaved. Throughput: {setup['threads']} clients, "
        f"{setup['burst_seconds']:.0f} s or {setup['burst_requests']} calls. **{setup['reps']} repetitions** "
        f"(1-minute load average before each: {loads}); each cell is min / median / max over them (per-call "
        "fastest and slowest over all calls).",
        "",
        "| operation | p50 ms | p95 ms | fastest / slowest call ms | mixed p95 ms | req/s | p95 target | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for op, row in table.items():
        target = targets.get(op)
        limit = f"{target['target_ms']:.0f} ms" if target else ""
        out.append(
            f"| {AIRFLOW_LABELS.get(op, op)} | {mmm(row['p50_ms'], fmt='{:.1f}')} | {mmm(row['p95_ms'], fmt='{:.1f}')} "
            f"| {row['min_ms']['min']:.1f} / {row['max_ms']['max']:.1f} | {mmm(row['mixed_p95_ms'], fmt='{:.1f}')} "
            f"| {mmm(row['throughput_rps'], fmt='{:.1f}')} | {limit} "
            f"| {('yes' if target['met'] else 'no') if target else ''} |")
    out += ["", "**Ratios plugin / Airflow** (same server, same run; medians over the repetitions):", "",
            "| pair | p50 | p95 | mixed p95 | throughput |", "|---|---|---|---|---|"]
    for op, ratio in r["ratios_plugin_over_airflow"].items():
        out.append(f"| {op.removeprefix('plugin ')} | {ratio['p50_ms']} | {ratio['p95_ms']} | "
                   f"{ratio.get('mixed_p95_ms', '-')} | {ratio['throughput_rps']} |")
    out += ["", notes.strip(), END]
    return "\n".join(out)


def main() -> None:
    result = json.loads((HERE / "results" / "api.json").read_text())
    notes = (HERE / "results" / "api_notes.md").read_text()
    path = HERE / "RESULTS.md"
    current = path.read_text()
    start, end = current.index(START), current.index(END) + len(END)
    path.write_text(current[:start] + section(result, notes) + current[end:])
    print(f"updated the rest-api section of {path}")


if __name__ == "__main__":
    main()
