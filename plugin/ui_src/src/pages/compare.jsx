// Compare 2 to 50 runs (/compare?ids=a,b,c): the runs, their parameters, metrics and versions side by side,
// "show differences only", and charts drawn in the page from the same data: a metric per run, any parameter
// against any metric, parallel coordinates of numeric parameters and metrics, and learning curves of the
// step metrics. "Export CSV" downloads one row per run.
import { h, Fragment } from "preact";
import { useMemo, useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { Layout, Link, StateBadge, ErrorBanner, fmtDuration, fmtValue, useLoad } from "../ui.jsx";
import { StructuredDiff } from "../diffview.jsx";
import { BarChart, ScatterPlot, ParallelCoordinates, LearningCurves, Legend, runColor } from "../charts.jsx";

export const MAX_COMPARE = 50;

/** The run ids of the page's address (``?ids=a,b,c``), distinct, in order. */
export function idsFromLocation(search) {
  const raw = new URLSearchParams(search).get("ids") || "";
  return [...new Set(raw.split(",").map((s) => s.trim()).filter(Boolean))];
}

function isNum(v) {
  return typeof v === "number" && Number.isFinite(v);
}

/** A link to an external page only when it is http(s): never a ``javascript:`` URL from stored data. */
export function safeHref(url) {
  return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
}

// -- CSV (RFC 4180), safe to open in a spreadsheet ---------------------------------------------------------
/** One CSV field: numbers stay numbers; text that a spreadsheet would run as a formula gets a leading quote. */
export function csvCell(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "";
  if (typeof v === "boolean") return v ? "true" : "false";
  let s = typeof v === "string" ? v : JSON.stringify(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows) {
  return rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

export function compareCsv(data, paramNames, metricNames) {
  const head = ["run_id", "dag_run_id", "workflow", "version", "state", "duration_seconds", "description",
    ...paramNames.map((p) => `params.${p}`), ...metricNames.map((m) => `metrics.${m}`)];
  const rows = data.runs.map((r) => [r.id, r.dag_run_id, r.workflow_name, r.version, r.state, r.duration_seconds, r.description,
    ...paramNames.map((p) => (data.params[p] || {})[r.id]), ...metricNames.map((m) => (data.metrics[m] || {})[r.id])]);
  return toCsv([head, ...rows]);
}

function download(text, filename) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function differing(values) {
  return new Set(values.map((v) => JSON.stringify(v === undefined ? null : v))).size > 1;
}

// -- the page ----------------------------------------------------------------------------------------------
export function ComparePage() {
  const ids = useMemo(() => idsFromLocation(window.location.search), []);
  const valid = ids.length >= 2 && ids.length <= MAX_COMPARE;
  const [data, error] = useLoad(() => (valid ? api.get(`/jobs/compare?ids=${ids.map(enc).join(",")}`) : Promise.resolve(null)), [ids.join(",")]);
  const [diffOnly, setDiffOnly] = useState(false);
  const crumbs = <Fragment><Link href="/runs">Runs</Link> / Compare</Fragment>;
  const title = `Compare ${data ? data.runs.length : ids.length} runs`;
  const model = useMemo(() => (data ? buildModel(data) : null), [data]);
  const actions = (
    <Fragment>
      <label class="mlops-check"><input type="checkbox" id="mlops-diff-only" checked={diffOnly}
                                        onChange={(e) => setDiffOnly(e.target.checked)} /> Show differences only</label>
      <button type="button" disabled={!model} id="mlops-export-csv"
              onClick={() => download(compareCsv(data, model.paramNames, model.metricNames), `runs-compare-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}.csv`)}>
        Export CSV</button>
    </Fragment>
  );
  return (
    <Layout active="runs" title={title} crumbs={crumbs} actions={actions}>
      {!valid && <div class="mlops-banner warning" role="alert">Select 2 to {MAX_COMPARE} runs on the <Link href="/runs">Runs</Link> page to compare them
        ({ids.length} given).</div>}
      <ErrorBanner error={error} />
      {valid && !data && !error && <p class="mlops-loading">Loading…</p>}
      {model && <CompareBody data={data} model={model} diffOnly={diffOnly} />}
    </Layout>
  );
}

/** Everything the sections and charts share, computed once per answer. */
function buildModel(data) {
  const runs = data.runs.map((r, index) => ({ ...r, index, short: `#${index + 1}`, key: r.id }));
  const paramNames = Object.keys(data.params || {}).sort();
  const metricNames = Object.keys(data.metrics || {}).sort();
  const diffParams = new Set(data.differing_params || paramNames.filter((p) => differing(runs.map((r) => data.params[p][r.id]))));
  const diffMetrics = new Set(data.differing_metrics || metricNames.filter((m) => differing(runs.map((r) => data.metrics[m][r.id]))));
  const paramValues = (p) => runs.map((r) => (data.params[p] || {})[r.id]).filter((v) => v !== null && v !== undefined);
  const numericParams = paramNames.filter((p) => { const vs = paramValues(p); return vs.length > 0 && vs.every(isNum); });
  // Text, booleans and other values: a scatter shows them as categories.
  const categoricalParams = paramNames.filter((p) => !numericParams.includes(p) && paramValues(p).length > 0);
  return { runs, paramNames, metricNames, diffParams, diffMetrics, numericParams, categoricalParams };
}

function CompareBody({ data, model, diffOnly }) {
  const { runs } = model;
  const legend = runs.map((r) => ({ key: r.id, short: r.short, label: r.dag_run_id, index: r.index }));
  return (
    <div class="mlops-compare" id="mlops-compare">
      <RunsTable runs={runs} />
      <section aria-labelledby="mlops-h-charts">
        <h2 id="mlops-h-charts">Charts</h2>
        <div class="mlops-chart-grid">
          <MetricBars data={data} model={model} />
          <Scatter data={data} model={model} />
        </div>
        <Parallel data={data} model={model} diffOnly={diffOnly} />
        <Legend items={legend} />
      </section>
      <section aria-labelledby="mlops-h-curves" id="mlops-curves">
        <h2 id="mlops-h-curves">Learning curves</h2>
        <LearningCurves idPrefix="mlops-curve"
                        runs={runs.map((r) => ({ key: r.id, short: r.short, label: r.dag_run_id, index: r.index, series: (data.step_metrics || {})[r.id] || [] }))} />
      </section>
      <ValuesTable id="mlops-compare-params" title="Parameters" kind="param" names={model.paramNames} values={data.params}
                   differ={model.diffParams} runs={runs} diffOnly={diffOnly} />
      <ValuesTable id="mlops-compare-metrics" title="Metrics" kind="metric" names={model.metricNames} values={data.metrics}
                   differ={model.diffMetrics} runs={runs} diffOnly={diffOnly} />
      <Versions data={data} runs={runs} diffOnly={diffOnly} />
      <TaskTimes data={data} runs={runs} />
    </div>
  );
}

function RunHead({ r }) {
  return <th key={r.id} data-run-id={r.id}><span class="mlops-swatch" style={{ background: runColor(r.index) }} aria-hidden="true" /> {r.short}</th>;
}

function RunsTable({ runs }) {
  return (
    <section aria-labelledby="mlops-h-runs">
      <h2 id="mlops-h-runs" class="sr-only">Runs</h2>
      <div class="mlops-scroll-x">
        <table class="mlops-table compact" id="mlops-compare-runs">
          <thead><tr><th>#</th><th>Run</th><th>Workflow</th><th>Version</th><th>State</th><th>Duration</th><th>Description</th><th>MLflow</th></tr></thead>
          <tbody>
            {runs.map((r) => {
              const mlflow = r.mlflow || null;
              const href = mlflow && safeHref(mlflow.url);
              return (
                <tr key={r.id} data-run-id={r.id}>
                  <td class="mlops-nowrap"><span class="mlops-swatch" style={{ background: runColor(r.index) }} aria-hidden="true" /> {r.short}</td>
                  <td><a href={r.airflow_url} target="_top" title="Open this run in Airflow's Grid">{r.dag_run_id}</a>
                    <div class="mlops-muted mlops-small">{r.id}</div></td>
                  <td><Link href={`/workflows/${enc(r.workflow_id)}/runs`}>{r.workflow_name}</Link></td>
                  <td>v{r.version}</td>
                  <td><StateBadge state={r.state} /></td>
                  <td>{fmtDuration(r.duration_seconds)}</td>
                  <td class="mlops-run-desc">{r.description || <span class="mlops-muted">–</span>}</td>
                  <td>{href ? <a href={href} target="_blank" rel="noopener noreferrer" class="mlops-mlflow-link">Open in MLflow ↗</a>
                    : mlflow ? <span class="mlops-muted" title={mlflow.error || ""}>{mlflow.state}</span> : <span class="mlops-muted">–</span>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function ValuesTable({ id, title, kind, names, values, differ, runs, diffOnly }) {
  const shown = diffOnly ? names.filter((n) => differ.has(n)) : names;
  return (
    <section aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{title}</h2>
      {names.length === 0 ? <p class="mlops-muted">No {title.toLowerCase()}.</p> : (
        <div class="mlops-scroll-x">
          <table class="mlops-table compact" id={id}>
            <thead><tr><th>{kind === "param" ? "Parameter" : "Metric"}</th>{runs.map((r) => <RunHead key={r.id} r={r} />)}</tr></thead>
            <tbody>
              {shown.map((n) => (
                <tr key={n} data-name={n} class={differ.has(n) ? "differs" : ""}>
                  <th scope="row">{n}{differ.has(n) && <span class="sr-only"> (differs)</span>}</th>
                  {runs.map((r) => {
                    const v = (values[n] || {})[r.id];
                    return <td key={r.id} data-run-id={r.id}>{v === null || v === undefined ? "–" : fmtValue(v)}</td>;
                  })}
                </tr>
              ))}
              {shown.length === 0 && <tr><td colSpan={runs.length + 1} class="mlops-empty">All runs have the same {title.toLowerCase()}.</td></tr>}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Chooser({ label, value, options, onChange, id }) {
  return (
    <label class="mlops-field mlops-chooser"><span>{label}</span>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {options.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    </label>
  );
}

function MetricBars({ data, model }) {
  const { metricNames, runs, diffMetrics } = model;
  const [metric, setMetric] = useState(() => metricNames.find((m) => diffMetrics.has(m)) || metricNames[0]);
  if (!metricNames.length) return <figure class="mlops-chart-card"><figcaption>Metric by run</figcaption><p class="mlops-muted">No metrics.</p></figure>;
  const items = runs.map((r) => ({ key: r.id, short: r.short, label: r.dag_run_id, index: r.index, value: (data.metrics[metric] || {})[r.id] }));
  return (
    <figure class={`mlops-chart-card${runs.length > 14 ? " mlops-wide" : ""}`} id="mlops-bars">
      <figcaption>Metric by run</figcaption>
      <Chooser label="Metric" id="mlops-bar-metric" value={metric} options={metricNames} onChange={setMetric} />
      <BarChart id="mlops-bar-chart" items={items} valueLabel={metric} label={`Bar chart of ${metric} by run`} />
    </figure>
  );
}

function Scatter({ data, model }) {
  const { metricNames, runs, numericParams, categoricalParams, diffParams, diffMetrics } = model;
  const paramOptions = [...numericParams, ...categoricalParams];
  const [param, setParam] = useState(() => paramOptions.find((p) => diffParams.has(p)) || paramOptions[0]);
  const [metric, setMetric] = useState(() => metricNames.find((m) => diffMetrics.has(m)) || metricNames[0]);
  const caption = "Parameter against metric";
  if (!paramOptions.length || !metricNames.length) {
    return <figure class="mlops-chart-card"><figcaption>{caption}</figcaption><p class="mlops-muted">Needs a parameter and a metric.</p></figure>;
  }
  const categorical = !numericParams.includes(param);
  const xOf = (r) => {
    const v = (data.params[param] || {})[r.id];
    return v === null || v === undefined ? null : categorical ? fmtValue(v) : v;
  };
  const points = runs.map((r) => ({ key: r.id, short: r.short, label: r.dag_run_id, index: r.index, x: xOf(r), y: (data.metrics[metric] || {})[r.id] }));
  const categories = categorical ? [...new Set(points.map((p) => p.x).filter((x) => x !== null))].sort() : null;
  return (
    <figure class="mlops-chart-card" id="mlops-scatter-card">
      <figcaption>{caption}</figcaption>
      <div class="mlops-choosers">
        <Chooser label="Parameter (x)" id="mlops-scatter-x" value={param} options={paramOptions} onChange={setParam} />
        <Chooser label="Metric (y)" id="mlops-scatter-y" value={metric} options={metricNames} onChange={setMetric} />
      </div>
      <ScatterPlot id="mlops-scatter" points={points} xLabel={param} yLabel={metric} xCategories={categories}
                   label={`Scatter of ${metric} against parameter ${param}`} />
    </figure>
  );
}

function Parallel({ data, model, diffOnly }) {
  const { runs, numericParams, metricNames, diffParams, diffMetrics } = model;
  const numericMetrics = metricNames.filter((m) => runs.some((r) => isNum((data.metrics[m] || {})[r.id])));
  const axes = [
    ...numericParams.filter((p) => !diffOnly || diffParams.has(p)).map((p) => ({ name: p, kind: "param", values: data.params[p] })),
    ...numericMetrics.filter((m) => !diffOnly || diffMetrics.has(m)).map((m) => ({ name: m, kind: "metric", values: data.metrics[m] })),
  ];
  const rows = runs.map((r) => ({ key: r.id, short: r.short, label: r.dag_run_id, index: r.index,
    values: Object.fromEntries(axes.map((a) => [a.name, (a.values || {})[r.id]])) }));
  return (
    <figure class="mlops-chart-card mlops-wide" id="mlops-parallel-card">
      <figcaption>Parallel coordinates of numeric parameters and metrics</figcaption>
      {axes.length < 2 ? <p class="mlops-muted">Needs at least two numeric parameters or metrics{diffOnly ? " that differ" : ""}.</p>
        : <ParallelCoordinates id="mlops-parallel" axes={axes} rows={rows}
                               label={`Parallel coordinates of ${axes.map((a) => a.name).join(", ")}, one line per run`} />}
    </figure>
  );
}

function Versions({ data, runs, diffOnly }) {
  const changes = data.version_changes || [];
  // Each distinct (workflow, version) among the runs, with the runs that ran it.
  const groups = [];
  for (const r of runs) {
    let g = groups.find((x) => x.workflow_id === r.workflow_id && x.version === r.version);
    if (!g) { g = { workflow_id: r.workflow_id, workflow_name: r.workflow_name, version: r.version, runs: [] }; groups.push(g); }
    g.runs.push(r);
  }
  const wanted = [...new Set([...groups.map((g) => `${g.workflow_id}\u0000${g.version}`),
    ...changes.flatMap((c) => [`${c.workflow_id}\u0000${c.from}`, `${c.workflow_id}\u0000${c.to}`])])].sort();
  const [specs] = useLoad(async () => {
    const found = await Promise.all(wanted.map((k) => {
      const [wid, n] = k.split("\u0000");
      return api.get(`/workflows/${enc(wid)}/versions/${n}`).then((v) => [k, v.spec], () => [k, null]);
    }));
    return Object.fromEntries(found);
  }, [wanted.join("|")]);
  const specOf = (wid, n) => (specs && specs[`${wid}\u0000${n}`]) || null;
  return (
    <section aria-labelledby="mlops-h-versions" id="mlops-compare-versions">
      <h2 id="mlops-h-versions">Versions</h2>
      {!diffOnly && (
        <table class="mlops-table compact" id="mlops-compare-version-list">
          <thead><tr><th>Workflow</th><th>Version</th><th>Runs</th><th>Tasks</th></tr></thead>
          <tbody>
            {groups.map((g) => {
              const spec = specOf(g.workflow_id, g.version);
              return (
                <tr key={`${g.workflow_id}:${g.version}`} data-version={g.version}>
                  <td>{g.workflow_name}</td>
                  <td>v{g.version}</td>
                  <td>{g.runs.map((r) => r.short).join(" ")}</td>
                  <td>{spec ? (spec.tasks || []).map((t) => (
                    <span key={t.name} class="mlops-kv"><code>{t.name}</code>{t.type && t.type !== "python" ? ` (${t.type})` : ""}
                      {(t.depends_on || []).length > 0 && <span class="mlops-muted"> after {t.depends_on.join(", ")}</span>}</span>
                  )) : specs ? <span class="mlops-muted">not readable</span> : "…"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {changes.length === 0
        ? <p class="mlops-muted">{groups.length === 1 ? `All runs ran v${groups[0].version} of ${groups[0].workflow_name}.` : "No version changes within a workflow."}</p>
        : changes.map((c) => {
          const oldSpec = specOf(c.workflow_id, c.from), newSpec = specOf(c.workflow_id, c.to);
          return (
            <div key={`${c.workflow_id}:${c.from}->${c.to}`} class="mlops-diff-set" data-version-change={`${c.from}->${c.to}`}>
              <h3>{c.workflow_name}: v{c.from} → v{c.to}</h3>
              {specs ? <StructuredDiff diff={c.diff} oldSpec={oldSpec || { tasks: [] }} newSpec={newSpec || { tasks: [] }}
                                       oldLabel={`v${c.from}`} newLabel={`v${c.to}`} /> : <p class="mlops-loading">Loading…</p>}
            </div>
          );
        })}
    </section>
  );
}

function TaskTimes({ data, runs }) {
  const tasks = [...new Set(Object.values(data.tasks || {}).flatMap((m) => Object.keys(m)))];
  if (!tasks.length) return null;
  return (
    <section aria-labelledby="mlops-h-tasks">
      <h2 id="mlops-h-tasks">Tasks</h2>
      <div class="mlops-scroll-x">
        <table class="mlops-table compact" id="mlops-compare-tasks">
          <thead><tr><th>Task</th>{runs.map((r) => <RunHead key={r.id} r={r} />)}</tr></thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={t}><th scope="row">{t}</th>{runs.map((r) => {
                const x = (data.tasks[r.id] || {})[t];
                return <td key={r.id}>{x ? <Fragment><StateBadge state={x.state || "none"} /> {fmtDuration(x.duration_seconds)}</Fragment> : "–"}</td>;
              })}</tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

