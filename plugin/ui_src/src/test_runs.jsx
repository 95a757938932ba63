// Test runs in the editor: "Test task" runs the selected task of the saved draft (after everything upstream of
// it, or fed by an earlier run's results) and "Test all" the whole draft, on Airflow's workers. The panel polls
// the test and shows each task's state, result, metrics and what its code printed or logged.
import { h, Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, enc } from "./api.js";
import { ErrorBanner, Field, StateBadge, fmtDuration } from "./ui.jsx";
import { ParamsForm, useParamsForm } from "./params.jsx";

const FINISHED = ["success", "failed"];
const POLL_MS = 1000;

/** The test panel of an existing workflow. ``task``: the selected task's name; ``params``: the tested spec's
 * parameters (a typed form, as the trigger's); ``blocked``: why it cannot test now. */
export function TestPanel({ workflowId, task, taskType, params, blocked, source }) {
  const form = useParamsForm(params);
  const [upstreamRun, setUpstreamRun] = useState("");
  const [recentRuns, setRecentRuns] = useState([]);
  const [test, setTest] = useState(null);
  const [error, setError] = useState(null);
  const [starting, setStarting] = useState(false);

  useEffect(() => {  // earlier runs whose results may feed the tested task (needs the right to read runs)
    api.get(`/jobs?workflow_id=${enc(workflowId)}&state=success&limit=10`).then((p) => setRecentRuns(p.items), () => setRecentRuns([]));
  }, [workflowId]);

  useEffect(() => {  // poll the running test
    if (!test || FINISHED.includes(test.state)) return undefined;
    const timer = setTimeout(() => api.get(`/tests/${enc(test.id)}`).then(setTest, setError), POLL_MS);
    return () => clearTimeout(timer);
  }, [test]);

  const start = async (target) => {
    if (!form.check()) return;
    setStarting(true); setError(null);
    try {
      setTest(await api.post(`/workflows/${enc(workflowId)}/tests`, { task: target || undefined, params: form.values,
                                                                      upstream_run_id: target && upstreamRun ? upstreamRun : undefined }));
    } catch (e) { form.showServerErrors(e); setError(e); } finally { setStarting(false); }
  };

  return (
    <section class="mlops-test-panel" id="mlops-test" aria-label="Test runs">
      <h2>Test</h2>
      <p class="mlops-hint">Runs the {source} on Airflow's workers; nothing is published and the workflow's runs are not affected.</p>
      <details class="mlops-test-params" id="mlops-test-params" open={Object.keys(params || {}).length > 0}>
        <summary>Parameters</summary>
        <ParamsForm params={params} values={form.values} texts={form.texts} errors={form.errors} onChange={form.onChange} idPrefix="test" />
      </details>
      <Field label="Upstream results of the tested task" id="mlops-test-upstream">
        <select value={upstreamRun} onChange={(e) => setUpstreamRun(e.target.value)}>
          <option value="">run its upstream tasks first</option>
          {recentRuns.map((r) => <option key={r.id} value={r.id}>from run {r.dag_run_id} (v{r.version})</option>)}
        </select>
      </Field>
      <div class="mlops-test-actions">
        <button type="button" id="mlops-test-task" disabled={!!blocked || starting || !task}
                title={blocked || `Run ${task} of the ${source}${taskType === "docker" ? " (its container)" : ""}`}
                onClick={() => start(task)}>Test task {task}</button>
        <button type="button" id="mlops-test-all" disabled={!!blocked || starting} title={blocked || `Run every task of the ${source}`}
                onClick={() => start(null)}>Test all</button>
      </div>
      {blocked && <p class="mlops-hint">{blocked}</p>}
      {error && <ErrorBanner error={error} onDismiss={() => setError(null)} />}
      {test && <TestResult test={test} />}
    </section>
  );
}

function TestResult({ test }) {
  const airflow = test.dag_run_id ? `/dags/${enc(test.dag_id)}/runs/${enc(test.dag_run_id)}` : null;
  return (
    <div class="mlops-test-result" id="mlops-test-result" data-state={test.state}>
      <div>Test of {test.target || "all tasks"}: <StateBadge state={test.state} />
        {airflow && <Fragment> · <a href={airflow} target="_top" title="Open the test's run in Airflow's Grid">Grid ↗</a></Fragment>}</div>
      <ol class="mlops-test-tasks">
        {test.tasks.map((name) => {
          const r = test.results[name] || { state: "queued" };
          return (
            <li key={name} data-test-task={name} data-state={r.state}>
              <div><b>{name}</b> <StateBadge state={r.state} />{r.seconds != null && ` ${fmtDuration(r.seconds)}`}</div>
              {r.error && <div class="mlops-error">{r.error}</div>}
              {r.metrics && Object.keys(r.metrics).length > 0 && (
                <div class="mlops-test-metrics">{Object.entries(r.metrics).map(([k, v]) => <span key={k}>{k} = {v}</span>)}</div>
              )}
              {r.state === "success" && <pre class="mlops-test-value">{JSON.stringify(r.result, null, 2)}</pre>}
              {r.log && <details open={r.state === "failed"}><summary>Log</summary><pre class="mlops-test-log">{r.log}</pre></details>}
            </li>
          );
        })}
      </ol>
    </div>
  );
}
