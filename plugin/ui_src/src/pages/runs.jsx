// Runs, per workflow or across all: live state, params, description, version, duration; select 2 to 50 runs
// and open the compare page; a run's detail shows its task graph, metrics and learning curves; trigger with a typed form and a description; each run links to Airflow's Grid. States arrive
// over the live stream and are applied in place; REST is asked again only when an event calls for it.
import { h, Fragment } from "preact";
import { useState } from "preact/hooks";
import { api, query, enc } from "../api.js";
import { boot, perms } from "../boot.js";
import { Layout, Link, StateBadge, Pager, ErrorBanner, Dialog, go, fmtTime, fmtDuration, fmtValue, useLoad, useToast, Toast } from "../ui.jsx";
import { useLiveData, LiveStatus } from "../live.js";
import { TaskGraph } from "../graph.jsx";
import { TriggerDialog } from "./trigger.jsx";
import { LearningCurves } from "../charts.jsx";
import { MAX_COMPARE, safeHref } from "./compare.jsx";

const PAGE = 25;
const STATES = ["queued", "running", "success", "failed"];
const FINISHED = new Set(["success", "failed"]);

function replaceRun(page, fresh) {
  if (!page || !page.items.some((r) => r.id === fresh.id)) return page;
  return { ...page, items: page.items.map((r) => (r.id === fresh.id ? fresh : r)) };
}

/** One state event applied to a page of run records (see useLiveData). */
export function applyRunEvent(page, event, ctx, stateFilter) {
  const i = page.items.findIndex((r) => r.dag_id === event.dag_id && r.dag_run_id === event.run_id);
  if (i < 0) {
    // Not on this page: a new run (triggered anywhere), a run on another page, or one the filters hide
    // until it reaches the state they ask for.
    const key = `${event.dag_id}\u0000${event.run_id}`;
    const qualifies = stateFilter && event.kind === "run" && event.state === stateFilter;
    if (ctx.once(key) || (qualifies && ctx.once(`${key}\u0000${event.state}`))) ctx.reloadSoon();
    return page;
  }
  const run = page.items[i];
  let next;
  if (event.kind === "run") {
    if (run.state === event.state) return page;
    next = { ...run, state: event.state };
    if (event.state === "running" && !run.started_at) next.started_at = event.changed_at || event.seen_at;
    // Finished: its record has the duration and the metrics now.
    if (FINISHED.has(event.state)) ctx.refresh(run.id, () => api.get(`/jobs/${enc(run.id)}`), replaceRun);
  } else {
    if (!event.task_id || (run.tasks || {})[event.task_id] === event.state) return page;
    next = { ...run, tasks: { ...(run.tasks || {}), [event.task_id]: event.state } };
  }
  const items = page.items.slice();
  items[i] = next;
  return { ...page, items };
}

export function RunsPage() {
  const id = boot.ids.workflow_id;
  const [filters, setFilters] = useState({ state: "", version: "" });
  const [offset, setOffset] = useState(0);
  const [picked, setPicked] = useState([]);
  const [open, setOpen] = useState(null);
  const [dialog, setDialog] = useState(null);
  const [toast, showToast] = useToast();
  const [wf] = useLoad(() => (id ? api.get(`/workflows/${enc(id)}`) : Promise.resolve(null)), [id]);
  const { data: page, error, status, reload } = useLiveData({
    load: () => api.get(`/jobs${query({ workflow_id: id, state: filters.state, version: filters.version, limit: PAGE, offset })}`),
    apply: (data, event, ctx) => applyRunEvent(data, event, ctx, filters.state),
    deps: [id, JSON.stringify(filters), offset],
    workflowIds: id ? [id] : [],
  });

  const toggle = (runId, on) => setPicked((now) => (on ? [...now.filter((x) => x !== runId), runId].slice(-MAX_COMPARE) : now.filter((x) => x !== runId)));
  const items = page ? page.items : [];
  const title = id ? `Runs${wf ? ` of ${wf.name}` : ""}` : "All runs";
  const crumbs = id ? <Fragment><Link href="/">Workflows</Link> / <Link href={`/workflows/${enc(id)}`}>{wf ? wf.name : "…"}</Link> / Runs</Fragment> : null;
  const actions = (
    <Fragment>
      <button type="button" disabled={picked.length < 2} onClick={() => go(`/compare?ids=${picked.map(enc).join(",")}`)}
              title={`Select 2 to ${MAX_COMPARE} runs`}>Compare{picked.length ? ` (${picked.length})` : ""}</button>
      {id && wf && perms.trigger_runs && <button type="button" class="primary" data-shortcut="t" onClick={() => setDialog({ kind: "trigger" })}>Trigger</button>}
    </Fragment>
  );
  return (
    <Layout active={id ? "workflows" : "runs"} title={title} crumbs={crumbs} actions={actions}>
      <form class="mlops-filters" onSubmit={(e) => e.preventDefault()}>
        <label class="mlops-field"><span>State</span>
          <select value={filters.state} aria-label="State" onChange={(e) => { setFilters({ ...filters, state: e.target.value }); setOffset(0); }}>
            <option value="">any</option>{STATES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        {id && <label class="mlops-field"><span>Version</span>
          <input type="number" min="1" aria-label="Version" value={filters.version} onChange={(e) => { setFilters({ ...filters, version: e.target.value }); setOffset(0); }} />
        </label>}
        <LiveStatus status={status} />
      </form>
      <ErrorBanner error={error} />
      <table class="mlops-table" id="mlops-runs">
        <thead><tr><th><span class="sr-only">Select</span></th><th>Run</th>{!id && <th>Workflow</th>}<th>State</th><th>Version</th>
          <th>Parameters</th><th>Triggered by</th><th>Started</th><th>Duration</th><th><span class="sr-only">Links</span></th></tr></thead>
        <tbody>
          {items.map((r) => (
            <Fragment key={r.id}>
              <tr data-run-id={r.id} data-dag-run-id={r.dag_run_id} data-state={r.state} class={open === r.id ? "open" : ""}>
                <td><input type="checkbox" aria-label={`Select run ${r.dag_run_id}`} checked={picked.includes(r.id)} onChange={(e) => toggle(r.id, e.target.checked)} /></td>
                <td>
                  <button type="button" class="link" aria-expanded={open === r.id} onClick={() => setOpen(open === r.id ? null : r.id)}>{r.dag_run_id}</button>
                  {r.description && <div class="mlops-run-desc">{r.description}</div>}
                </td>
                {!id && <td><Link href={`/workflows/${enc(r.workflow_id)}/runs`}>{r.workflow_name}</Link></td>}
                <td><StateBadge state={r.state} /></td>
                <td>v{r.version}</td>
                <td class="mlops-params-cell">{Object.entries(r.params).map(([k, v]) => <span key={k} class="mlops-kv"><b>{k}</b>={fmtValue(v)}</span>)}</td>
                <td>{r.triggered_by}<div class="mlops-muted">{r.source}</div></td>
                <td>{fmtTime(r.started_at || r.created_at)}</td>
                <td>{fmtDuration(r.duration_seconds)}</td>
                <td class="mlops-row-actions">
                  <a href={r.airflow_url} target="_top" title="Open this run in Airflow's Grid">Grid ↗</a>
                  {perms.trigger_runs && <button type="button" onClick={() => setDialog({ kind: "rerun", run: r })}>Re-run</button>}
                </td>
              </tr>
              {open === r.id && (
                <tr class="mlops-run-detail"><td colSpan={id ? 9 : 10}><RunDetail run={r} /></td></tr>
              )}
            </Fragment>
          ))}
          {page && items.length === 0 && <tr><td colSpan="10" class="mlops-empty">No runs yet.{id && perms.trigger_runs ? " Trigger one." : ""}</td></tr>}
        </tbody>
      </table>
      {page && <Pager total={page.total} limit={PAGE} offset={offset} onChange={setOffset} />}
      {dialog && dialog.kind === "trigger" && (
        <TriggerDialog workflow={wf} onClose={() => setDialog(null)}
                       onTriggered={(run) => { setDialog(null); showToast(`Triggered ${run.dag_run_id}`); reload(); }} />
      )}
      {dialog && dialog.kind === "rerun" && <RerunLoader run={dialog.run} onClose={() => setDialog(null)}
                                                          onTriggered={(run) => { setDialog(null); showToast(`Triggered ${run.dag_run_id}`); reload(); }} />}
      <Toast message={toast} />
    </Layout>
  );
}

function RerunLoader({ run, onClose, onTriggered }) {
  const [wf, error] = useLoad(() => api.get(`/workflows/${enc(run.workflow_id)}`), [run.workflow_id]);
  if (error) return <Dialog title="Re-run" onClose={onClose}><ErrorBanner error={error} /></Dialog>;
  if (!wf) return null;
  return <TriggerDialog workflow={wf} initial={run.params} rerunOf={run.id} onClose={onClose} onTriggered={onTriggered} />;
}

function RunDetail({ run }) {
  const [version] = useLoad(() => api.get(`/workflows/${enc(run.workflow_id)}/versions/${run.version}`), [run.workflow_id, run.version]);
  // Learning curves: reloaded when the run's state changes (a running task logs more steps).
  const [steps] = useLoad(() => api.get(`/jobs/${enc(run.id)}/step-metrics`).catch(() => null), [run.id, run.state]);
  const mlflow = run.mlflow || null;
  const mlflowUrl = mlflow && safeHref(mlflow.url);
  return (
    <div class="mlops-run-detail-body">
      <div class="mlops-graph-box">
        {version ? <TaskGraph tasks={version.spec.tasks || []} states={run.tasks} label={`Task states of ${run.dag_run_id}`} /> : "…"}
      </div>
      <div>
        <p><b>Description:</b> {run.description || <span class="mlops-muted">none</span>}</p>
        {mlflow && <p class="mlops-mlflow" data-mlflow-state={mlflow.state}><b>MLflow:</b>{" "}
          {mlflowUrl ? <a href={mlflowUrl} target="_blank" rel="noopener noreferrer" class="mlops-mlflow-link">Open in MLflow ↗</a>
            : <span class="mlops-muted">{mlflow.state}{mlflow.error ? `: ${mlflow.error}` : ""}</span>}</p>}
        <p><b>Tasks:</b> {Object.entries(run.tasks || {}).map(([t, s]) => <span key={t} class="mlops-kv">{t}: <StateBadge state={s || "none"} /></span>)}</p>
        {run.metrics && Object.keys(run.metrics).length > 0 && (
          <table class="mlops-table compact"><thead><tr><th>Task</th><th>Metric</th><th>Value</th></tr></thead>
            <tbody>{Object.entries(run.metrics).flatMap(([t, m]) => Object.entries(m).map(([k, v]) => <tr key={`${t}.${k}`}><td>{t}</td><td>{k}</td><td>{v}</td></tr>))}</tbody></table>
        )}
      </div>
      {steps && steps.series && steps.series.length > 0 && (
        <div class="mlops-run-curves" data-run-id={run.id}>
          <h3>Learning curves</h3>
          <LearningCurves runs={[{ key: run.id, short: "", label: run.dag_run_id, index: 0, series: steps.series }]} />
        </div>
      )}
    </div>
  );
}
