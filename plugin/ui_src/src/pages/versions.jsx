// Versions: the history, a side-by-side diff of any two versions (settings, parameters, dependencies,
// per-task code) and restore with an in-page confirmation.
import { h, Fragment } from "preact";
import { useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { boot, mayEdit } from "../boot.js";
import { Layout, Link, ErrorBanner, Confirm, fmtTime, fmtValue, useLoad, useToast, Toast, Pager } from "../ui.jsx";
import { SideBySideDiff, specOutline } from "../diffview.jsx";

const PAGE = 50;

export function VersionsPage() {
  const id = boot.ids.workflow_id;
  const [offset, setOffset] = useState(0);
  const [wf, wfError, reloadWf] = useLoad(() => api.get(`/workflows/${enc(id)}`), [id]);
  const [page, error, reload] = useLoad(() => api.get(`/workflows/${enc(id)}/versions?limit=${PAGE}&offset=${offset}`), [id, offset]);
  const [pair, setPair] = useState(null);        // [from, to]
  const [restore, setRestore] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [toast, showToast] = useToast();
  const items = page ? page.items : [];
  const latest = wf ? wf.version : null;
  const from = pair ? pair[0] : (items[1] ? items[1].number : null);
  const to = pair ? pair[1] : (items[0] ? items[0].number : null);

  const doRestore = async () => {
    try {
      const result = await api.postIfMatch(`/versions/${enc(restore.id)}/restore`, wf.revision);
      setRestore(null); showToast(`Restored v${restore.number} as version ${result.version}`);
      reloadWf(); reload(); setPair(null);
    } catch (e) { setRestore(null); setActionError(e); }
  };

  const crumbs = <Fragment><Link href="/">Workflows</Link> / <Link href={`/workflows/${enc(id)}`}>{wf ? wf.name : "…"}</Link> / Versions</Fragment>;
  return (
    <Layout active="workflows" title={`Versions${wf ? ` of ${wf.name}` : ""}`} crumbs={crumbs}
            actions={<Fragment><Link class="button" href={`/workflows/${enc(id)}`}>Open editor</Link>
              <Link class="button" href={`/workflows/${enc(id)}/runs`}>Runs</Link></Fragment>}>
      <ErrorBanner error={wfError || error || actionError} onDismiss={actionError ? () => setActionError(null) : null} />
      <div class="mlops-versions">
        <table class="mlops-table" id="mlops-versions">
          <thead><tr><th>Version</th><th>Message</th><th>Author</th><th>Saved</th><th>Compare</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {items.map((v) => (
              <tr key={v.number} data-version={v.number} class={v.number === latest ? "current" : ""}>
                <td>v{v.number}{v.number === latest && <span class="mlops-pill">current</span>}</td>
                <td class="mlops-clip">{v.message || <span class="mlops-muted">–</span>}</td>
                <td>{v.created_by}</td>
                <td>{fmtTime(v.created_at)}</td>
                <td>
                  <label class="mlops-check"><input type="radio" name="from" checked={from === v.number} aria-label={`Compare from v${v.number}`}
                                                    onChange={() => setPair([v.number, to])} /> from</label>
                  <label class="mlops-check"><input type="radio" name="to" checked={to === v.number} aria-label={`Compare to v${v.number}`}
                                                    onChange={() => setPair([from, v.number])} /> to</label>
                </td>
                <td>{v.number !== latest && wf && mayEdit(wf) && <button type="button" onClick={() => setRestore(v)}>Restore</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {page && <Pager total={page.total} limit={PAGE} offset={offset} onChange={setOffset} />}
        {from && to && from !== to && <VersionDiff id={id} from={from} to={to} />}
        {items.length === 1 && <p class="mlops-muted">Only one version so far: save a change to compare.</p>}
      </div>
      {restore && (
        <Confirm title={`Restore version ${restore.number}?`} confirmLabel={`Restore v${restore.number}`}
                 message={`The workflow's tasks, parameters and settings become those of v${restore.number}, saved as a new version. Nothing is lost: the current version stays in the history.`}
                 onConfirm={doRestore} onCancel={() => setRestore(null)} />
      )}
      <Toast message={toast} />
    </Layout>
  );
}

function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

function prettyJson(v) { return v === null || v === undefined ? "" : JSON.stringify(v, null, 2); }

function VersionDiff({ id, from, to }) {
  const [diff, error] = useLoad(() => api.get(`/workflows/${enc(id)}/diff?from=${from}&to=${to}`), [id, from, to]);
  const [specs] = useLoad(() => Promise.all([api.get(`/workflows/${enc(id)}/versions/${from}`), api.get(`/workflows/${enc(id)}/versions/${to}`)]), [id, from, to]);
  if (error) return <ErrorBanner error={error} />;
  if (!diff || !specs) return <p class="mlops-loading">Loading diff…</p>;
  const [a, b] = specs;
  const code = (spec, name) => { const t = (spec.spec.tasks || []).find((x) => x.name === name); return t ? t.code : ""; };
  const taskOf = (spec, name) => (spec.spec.tasks || []).find((x) => x.name === name);
  const renamedTo = Object.fromEntries(diff.tasks.renamed.map((r) => [r.to, r.from]));
  return (
    <section class="mlops-diff-set" aria-label={`Diff v${from} to v${to}`} id="mlops-version-diff">
      <h2>v{from} → v{to}</h2>
      {diff.identical && <p>These versions are identical.</p>}
      {diff.settings.length > 0 && (
        <Fragment>
          <h3>Settings</h3>
          <table class="mlops-table compact"><thead><tr><th>Field</th><th>v{from}</th><th>v{to}</th></tr></thead>
            <tbody>{diff.settings.map((c) => (isObject(c.old) || isObject(c.new)
              // An object setting (notifications): its pretty JSON, side by side, so the changed lines stand out.
              ? <tr key={c.field} data-setting={c.field}><td>{c.field}</td><td colSpan="2">
                  <SideBySideDiff oldText={prettyJson(c.old)} newText={prettyJson(c.new)} oldLabel={`v${from}`} newLabel={`v${to}`} /></td></tr>
              : <tr key={c.field} data-setting={c.field}><td>{c.field}</td><td class="del">{fmtValue(c.old)}</td><td class="add">{fmtValue(c.new)}</td></tr>))}
            </tbody></table>
        </Fragment>
      )}
      {(diff.params.added.length + diff.params.removed.length + diff.params.changed.length) > 0 && (
        <Fragment>
          <h3>Parameters</h3>
          <ul class="mlops-changes">
            {diff.params.added.map((n) => <li key={`a${n}`} class="add">added <code>{n}</code></li>)}
            {diff.params.removed.map((n) => <li key={`r${n}`} class="del">removed <code>{n}</code></li>)}
            {diff.params.changed.map((c) => <li key={`c${c.name}`}>changed <code>{c.name}</code>: {fmtValue(c.old)} → {fmtValue(c.new)}</li>)}
          </ul>
        </Fragment>
      )}
      {(diff.tasks.added.length + diff.tasks.removed.length + diff.tasks.renamed.length) > 0 && (
        <Fragment>
          <h3>Tasks</h3>
          <ul class="mlops-changes">
            {diff.tasks.added.map((n) => <li key={`a${n}`} class="add">added <code>{n}</code></li>)}
            {diff.tasks.removed.map((n) => <li key={`r${n}`} class="del">removed <code>{n}</code></li>)}
            {diff.tasks.renamed.map((r) => <li key={`n${r.to}`}>renamed <code>{r.from}</code> → <code>{r.to}</code></li>)}
          </ul>
        </Fragment>
      )}
      {diff.tasks.changed.map((t) => (
        <div key={t.name} class="mlops-task-diff" data-task-diff={t.name}>
          <h3>Task {t.name}</h3>
          {t.depends_on_added.length > 0 && <p class="add">now depends on {t.depends_on_added.join(", ")}</p>}
          {t.depends_on_removed.length > 0 && <p class="del">no longer depends on {t.depends_on_removed.join(", ")}</p>}
          {t.fields.filter((c) => c.field !== "code" && c.field !== "depends_on").map((c) => (isObject(c.old) || isObject(c.new)
            // A docker task's settings: their pretty JSON side by side.
            ? <div key={c.field} data-task-field={c.field}><p>{c.field}:</p>
                <SideBySideDiff oldText={prettyJson(c.old)} newText={prettyJson(c.new)} oldLabel={`v${from}`} newLabel={`v${to}`} /></div>
            : <p key={c.field}>{c.field}: {fmtValue(c.old)} → {fmtValue(c.new)}</p>))}
          {t.code_diff && <SideBySideDiff oldText={code(a, renamedTo[t.name] || t.name)} newText={code(b, t.name)} oldLabel={`v${from}`} newLabel={`v${to}`} />}
        </div>
      ))}
      {diff.tasks.added.map((n) => (
        <div key={`new${n}`} class="mlops-task-diff" data-task-diff={n}><h3>Task {n} (new{taskOf(b, n) && taskOf(b, n).type === "docker" ? ", docker container" : ""})</h3>
          <SideBySideDiff oldText="" newText={taskOf(b, n) && taskOf(b, n).type === "docker" ? prettyJson(taskOf(b, n).docker) : code(b, n)}
                          oldLabel={`v${from}`} newLabel={`v${to}`} /></div>
      ))}
      <details><summary>Whole structure (without code)</summary>
        <SideBySideDiff oldText={specOutline(a.spec)} newText={specOutline(b.spec)} oldLabel={`v${from}`} newLabel={`v${to}`} /></details>
    </section>
  );
}
