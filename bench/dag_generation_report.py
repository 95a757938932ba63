"""Writes the dag-generation section of bench/RESULTS.md from results/dag_generation.json (only that section).

Usage: python bench/dag_generation_report.py   (bench_dag_generation.py calls it at the end)
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
START, END = "<!-- section: dag-generation (owner: bench_dag_generation.py) -->", "<!-- end: dag-generation -->"
VARIANTS = (("plugin", "plugin"), ("plugin-bundle", "plugin, MLOps DAG bundle"), ("floor", "hand-written floor"),
            ("dagfactory", "dag-factory (YAML)"))
# The bundle's cost over the plain DAG file, measured in the same run (its target: within 10 %).
BUNDLE_RATIOS = (("parse_s", "parse wall"), ("parse_cpu_s", "parse CPU"), ("worker_parse_s", "worker cold"),
                 ("worker_parse_warm_s", "worker warm"))


def variants_of(sizes: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The variants measured at any W (an older run has no bundle variant)."""
    return tuple((v, label) for v, label in VARIANTS if any(v in s for s in sizes.values()))


def mmm(s: dict[str, float] | None, scale: float = 1, fmt: str = "{:.2f}") -> str:
    if not s:
        return "-"
    return " / ".join(fmt.format(s[k] * scale) for k in ("min", "median", "max"))


def section(r: dict[str, Any], notes: str = "") -> str:
    m, sizes = r["machine"], r["sizes"]
    ws = sorted(sizes, key=int)
    variants = variants_of(sizes)
    loads = [sizes[w]["load_1min"]["median"] for w in ws]
    out = [
        START,
        "## 1-3. DAG generation, sharding, worker-side parse",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, shared with other work: 1-minute load "
        f"average {min(loads):.1f}-{max(loads):.1f} during the measurements (medians per W; at start "
        f"{r['load_at_start']:.1f}). Versions: Python {m['python']}, Airflow {m['airflow']}, dag-factory "
        f"{m['dag_factory']}, SQLAlchemy {m['sqlalchemy']}; plugin database SQLite. "
        "Script: `bench/bench_dag_generation.py` (raw data `bench/results/dag_generation.json`).",
        "",
        "**Method.** W workflows of 10 tasks (extract -> clean -> features -> 4 trainings in parallel -> select "
        "-> evaluate -> publish; 3 typed params: integer with bounds, required string, enum) created through "
        "`create_workflow` (the services: validation, version and audit rows). Three DAG files build the same "
        "DAGs (dag_ids, task ids, PythonOperator, typed Params, dependencies, default_args, doc_md, "
        "access_control): the plugin's `dags/mlops_workflows.py` (in a plain dags folder, each workflow's current "
        "version; and in the MLOps DAG bundle, every workflow as of the bundle's revision, where a worker "
        "initialises the bundle at the run's version and builds from that version's folder); a hand-written "
        "floor that builds them from an "
        "in-memory list literal (no database, no validation); dag-factory's `load_yaml_dags` on one YAML file "
        "(its params are plain defaults: it has no syntax for typed Params). Each measurement is a fresh "
        "process doing what Airflow 3.3's parse subprocess does: the manager's pre-import of the file's "
        "`airflow.*` imports (not timed, as in Airflow), then **parse** = `BundleDagBag(...)` (the DagBag "
        "fill), then **serialize** = `airflow.dag_processing.processor._serialize_dags` "
        "(`DagSerialization.to_dict`, which validates each DAG against Airflow's JSON schema). Variants are "
        "interleaved; one warm-up per variant (bytecode and OS caches; for the plugin it is the *first parse*, "
        "which validates every spec in full) is reported apart. Peak RSS = `ru_maxrss` of the child. "
        "Figures are min / median / max.",
        "",
    ]
    out += [
        "### Parse (DagBag fill), seconds",
        "",
        "| W | reps | "
        + " | ".join(label for _, label in variants)
        + " | plugin ms per workflow | plugin first parse |",
        "|---|---|" + "---|" * len(variants) + "---|---|",
    ]
    for w in ws:
        s = sizes[w]
        out.append(
            f"| {int(w):,} | {s['repetitions']} | "
            + " | ".join(mmm(s.get(v, {}).get("parse_s")) for v, _ in variants)
            + f" | {s['plugin']['parse_ms_per_workflow']:.2f} | {s['plugin']['first_parse_s']:.2f} |"
        )
    out += [
        "",
        "CPU seconds of the same parses (less sensitive to the machine's other load):",
        "",
        "| W | " + " | ".join(label for _, label in variants) + " |",
        "|---|" + "---|" * len(variants),
    ]
    for w in ws:
        out.append(
            f"| {int(w):,} | " + " | ".join(mmm(sizes[w].get(v, {}).get("parse_cpu_s")) for v, _ in variants) + " |"
        )
    out += [
        "",
        "### Ratios (medians)",
        "",
        "| W | plugin / floor (wall) | plugin / floor (CPU) | "
        "dag-factory / plugin (wall) | dag-factory / plugin (CPU) |",
        "|---|---|---|---|---|",
    ]
    for w in ws:
        s = sizes[w]
        cpu = {v: s[v]["parse_cpu_s"]["median"] for v, _ in VARIANTS if v in s}
        df = (
            f"{s['ratio_parse_dagfactory_over_plugin']:.2f} | {cpu['dagfactory'] / cpu['plugin']:.2f}"
            if "dagfactory" in s
            else "- | -"
        )
        out.append(
            f"| {int(w):,} | {s['ratio_parse_plugin_over_floor']:.2f} | {cpu['plugin'] / cpu['floor']:.2f} | {df} |"
        )
    out += [
        "",
        "### Serialization (Airflow's `_serialize_dags`) and memory",
        "",
        "| W | variant | serialize s | reps | ms per DAG (median) | peak RSS MB, parse only "
        "| peak RSS MB, parse + serialize |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in ws:
        for v, label in variants:
            if v not in sizes[w]:
                continue
            x = sizes[w][v]
            per = f"{x['serialize_s']['median'] / int(w) * 1000:.1f}" if x["serialize_s"] else "-"
            out.append(
                f"| {int(w):,} | {label} | {mmm(x['serialize_s'])} | {x['serialize_repetitions']} | {per} | "
                f"{mmm(x['peak_rss_parse_only_mb'], fmt='{:.0f}')} | {mmm(x['peak_rss_mb'], fmt='{:.0f}')} |"
            )
    out += [
        "",
        "### Worker-side parse (parsing context = one dag_id), milliseconds, "
        + ", ".join(f"{row.get('worker_repetitions', 5)} runs each at W = {int(w):,}" for w, row in sizes.items()
                    if "worker_parse_s" in row.get("plugin", {})),
        "",
        "*Cold*: a fresh process with only Airflow's task runner imported, then the DAG file (includes importing "
        "`PythonOperator` and the plugin's modules). *Warm*: the file's `airflow.*` imports and the plugin's "
        "modules already imported, so what is timed is reading one row and building one DAG.",
        "",
        "| W | " + " | ".join(f"{label} cold | {label} warm" for v, label in variants if v != "dagfactory") + " |",
        "|---|" + "---|---|" * len([v for v, _ in variants if v != "dagfactory"]),
    ]
    for w in ws:
        s = sizes[w]
        out.append(f"| {int(w):,} | " + " | ".join(
            f"{mmm(s.get(v, {}).get('worker_parse_s'), 1000, '{:.0f}')} | "
            f"{mmm(s.get(v, {}).get('worker_parse_warm_s'), 1000, '{:.0f}')}"
            for v, _ in variants if v != "dagfactory") + " |")
    if any("ratio_bundle_over_plain" in sizes[w] for w in ws):
        out += [
            "",
            "### The MLOps DAG bundle against the plain DAG file (same run, ratio of medians)",
            "",
            "| W | " + " | ".join(label for _, label in BUNDLE_RATIOS) + " |",
            "|---|" + "---|" * len(BUNDLE_RATIOS),
        ]
        for w in ws:
            if ratios := sizes[w].get("ratio_bundle_over_plain"):
                out.append(f"| {int(w):,} | " + " | ".join(f"{ratios[k]:.3f}" for k, _ in BUNDLE_RATIOS) + " |")
    if proc := r.get("processor"):
        out += [
            "",
            f"### A real dag-processor on {proc['workflows']:,} workflows: one file vs shards",
            "",
            "`airflow dag-processor --num-runs 1` (SQLite Airflow DB, `parsing_processes` = "
            f"{proc['runs'][0]['settings']['parsing_processes']}), run twice per configuration: the first cycle "
            "(the loader validates every spec, Airflow writes every serialized DAG) and a steady one. Per-file "
            "time = Airflow's `dag_processing.last_duration` metric (received over StatsD); CPU = the whole "
            "process tree (`getrusage(RUSAGE_CHILDREN)`). Limits: `[core] dagbag_import_timeout` = "
            f"{proc['runs'][0]['settings']['dagbag_import_timeout']} s, `[dag_processor] dag_file_processor_timeout`"
            f" = {proc['runs'][0]['settings']['dag_file_processor_timeout']} s.",
            "",
            "| files | cycle | DAGs in Airflow | per-file s (min / median / max) | processor timeouts | cycle wall s | "
            "cycle CPU s |",
            "|---|---|---|---|---|---|---|",
        ]
        for run in proc["runs"]:
            for c in run["cycles"]:
                secs = list(c["file_seconds"].values())
                per = f"{min(secs):.1f} / {statistics.median(secs):.1f} / {max(secs):.1f}" if secs else "-"
                out.append(
                    f"| {_label(run)} | {c['cycle']} | {sum(c['dags_per_file'].values()):,} | {per} | "
                    f"{c['processor_timeouts']} | {c['wall_s']:.0f} | {c['cpu_s']:.0f} |"
                )
    out += ["", "### Targets", ""] + targets(r)
    if notes:
        out += ["", notes.strip()]
    out += [END]
    return "\n".join(out)


def targets(r: dict[str, Any]) -> list[str]:
    """Each target of the issue, computed from the medians above."""
    sizes, lines = r["sizes"], []

    def met(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    def cpu(w: str, v: str) -> float:
        return sizes[w][v]["parse_cpu_s"]["median"]

    if "1000" in sizes:
        s = sizes["1000"]
        wall, c = s["ratio_parse_plugin_over_floor"], cpu("1000", "plugin") / cpu("1000", "floor")
        lines.append(
            f"- Plugin parse within 1.15x of the floor at W = 1,000: {wall:.2f}x wall, {c:.2f}x CPU: "
            f"{met(wall <= 1.15)} (wall), {met(c <= 1.15)} (CPU)."
        )
        wall, c = s["ratio_parse_dagfactory_over_plugin"], cpu("1000", "dagfactory") / cpu("1000", "plugin")
        lines.append(
            f"- At least 5x faster than dag-factory at W = 1,000: {wall:.2f}x wall, {c:.2f}x CPU: {met(wall >= 5)}."
        )
    flat = [w for w in ("100", "1000", "10000") if w in sizes]
    if len(flat) > 1:
        per = {w: sizes[w]["plugin"]["parse_ms_per_workflow"] for w in flat}
        per_cpu = {w: cpu(w, "plugin") / int(w) * 1000 for w in flat}
        spread = max(per.values()) / min(per.values())
        spread_cpu = max(per_cpu.values()) / min(per_cpu.values())
        lines.append(
            "- Cost per workflow flat from 100 to 10,000: "
            + ", ".join(f"{per[w]:.2f} ms wall / {per_cpu[w]:.2f} ms CPU at {int(w):,}" for w in flat)
            + f" (max/min {spread:.2f} wall, {spread_cpu:.2f} CPU): {met(spread_cpu <= 1.25)} (within 25 %, CPU)."
        )
    bundle = {w: sizes[w]["ratio_bundle_over_plain"] for w in sizes if "ratio_bundle_over_plain" in sizes[w]}
    if bundle:
        worst = {key: max(bundle[w][key] for w in bundle) for key, _ in BUNDLE_RATIOS}
        lines.append(
            "- The MLOps DAG bundle's parse and worker cost within 10 % of the plain DAG file's, same run: worst "
            + ", ".join(f"{label} {worst[key]:.2f}x" for key, label in BUNDLE_RATIOS)
            + f" over W = {', '.join(f'{int(w):,}' for w in sorted(bundle, key=int))}: "
            + f"{met(worst['parse_cpu_s'] <= 1.10 and worst['worker_parse_warm_s'] <= 1.10)} "
            "(CPU and warm worker, the figures least moved by the machine's other load)."
        )
    worst_cold = max(sizes[w]["plugin"]["worker_parse_s"]["median"] for w in sizes) * 1000
    worst_warm = max(sizes[w]["plugin"]["worker_parse_warm_s"]["median"] for w in sizes) * 1000
    lines.append(
        f"- Worker-side parse under 50 ms at any W: worst median {worst_warm:.0f} ms warm "
        f"{met(worst_warm < 50)}, {worst_cold:.0f} ms cold {met(worst_cold < 50)}."
    )
    if proc := r.get("processor"):
        limit = min(
            float(proc["runs"][0]["settings"][k]) for k in ("dagbag_import_timeout", "dag_file_processor_timeout")
        )
        for run in proc["runs"]:
            worst = max((max(c["file_seconds"].values(), default=0) for c in run["cycles"]), default=0)
            timeouts = sum(c["processor_timeouts"] for c in run["cycles"])
            lines.append(
                f"- {proc['workflows']:,} workflows in {_label(run)} file(s): slowest file {worst:.1f} s, "
                f"{timeouts} processor timeout(s); no file near the {limit:.0f} s limit: "
                f"{met(worst < limit / 2 and not timeouts)}."
            )
    return lines


def _label(run: dict[str, Any]) -> str:
    """Files of a dag-processor run, and whether DAGs carried FAB access_control (``[mlops] dag_access_control``)."""
    return (f"{run['files']}" + ("" if run.get("access_control", True) else " (access_control off)")
            + (f", {run['label']}" if run.get("label") else ""))


def main() -> None:
    result = json.loads((HERE / "results" / "dag_generation.json").read_text())
    notes_file = HERE / "results" / "dag_generation_notes.md"
    text = section(result, notes_file.read_text() if notes_file.exists() else "")
    path = HERE / "RESULTS.md"
    current = path.read_text()
    start, end = current.index(START), current.index(END) + len(END)
    path.write_text(current[:start] + text + current[end:])
    print(f"updated the dag-generation section of {path}")


if __name__ == "__main__":
    main()
