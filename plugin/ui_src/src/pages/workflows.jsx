// Workflows: search, filters (tag, owner, template, active, last run state), sort, paging; per row the
// last run, version and owner; actions open, trigger, clone, archive. The last run's state follows the live
// stream; a run newer than the one shown brings a fresh listing.
import { h, Fragment } from "preact";
import { useState } from "preact/hooks";
import { api, query, enc } from "../api.js";
import { perms, mayEdit } from "../boot.js";
import { Layout, Link, go, StateBadge, Pager, ErrorBanner, Confirm, Dialog, Field, fmtTime, useLoad, useToast, Toast } from "../ui.jsx";
import { useLiveData, LiveStatus } from "../live.js";
import { TriggerDialog } from "./trigger.jsx";

const PAGE = 25;
const SORTS = [["name", "Name (A–Z)"], ["-name", "Name (Z–A)"], ["-updated_at", "Recently updated"],
  ["updated_at", "Least recently updated"], ["-created_at", "Newest"], ["created_at", "Oldest"]];

/** One state event applied to a page of workflows (see useLiveData): only runs matter here. */
export function applyWorkflowEvent(data, event, ctx, lastRunFilter) {
  if (event.kind !== "run") return data;
  const key = `${event.dag_id}\u0000${event.run_id}`;
  const i = data.items.findIndex((w) => w.id === event.workflow_id);
  if (i < 0) { // a workflow not listed: it may be now, if the filter asks for the state its run just reached
    if (lastRunFilter && event.state === lastRunFilter && ctx.once(`${key}\u0000${event.state}`)) ctx.reloadSoon();
    return data;
  }
  const wf = data.items[i];
  if (!wf.last_run || wf.last_run.run_id !== event.run_id) { // usually a new run: the listing knows the newest
    if (ctx.once(key)) ctx.reloadSoon();
    return data;
  }
  if (wf.last_run.state === event.state) return data;
  const items = data.items.slice();
  items[i] = { ...wf, last_run: { ...wf.last_run, state: event.state } };
  return { ...data, items };
}

function initialFilters() {
  const p = new URLSearchParams(window.location.search);
  return { q: p.get("q") || "", tag: p.get("tag") || "", owner: p.get("owner") || "", template_id: p.get("template_id") || "",
    active: p.get("active") || "", last_run_state: p.get("last_run_state") || "", sort: p.get("sort") || "name", offset: 0 };
}

export function WorkflowsPage() {
  const [f, setF] = useState(initialFilters);
  const [error, setError] = useState(null);
  const [dialog, setDialog] = useState(null);
  const [toast, showToast] = useToast();
  const { data, error: loadError, status, reload } = useLiveData({
    load: () => api.get(`/workflows${query({ ...f, limit: PAGE })}`),
    apply: (current, event, ctx) => applyWorkflowEvent(current, event, ctx, f.last_run_state),
    deps: [JSON.stringify(f)],
  });
  const [templates] = useLoad(() => (perms.read_templates ? api.get("/templates?limit=200") : Promise.resolve({ items: [] })), []);
  const set = (k, v) => {
    const next = { ...f, [k]: v, offset: k === "offset" ? v : 0 };
    setF(next);
    const url = new URL(window.location.href);
    for (const key of ["q", "tag", "owner", "template_id", "active", "last_run_state", "sort"]) {
      if (next[key] && !(key === "sort" && next[key] === "name")) url.searchParams.set(key, next[key]); else url.searchParams.delete(key);
    }
    window.history.replaceState(null, "", url);
  };

  const archive = async (wf) => {
    try {
      await api.del(`/workflows/${enc(wf.id)}`);
      setDialog(null); showToast(`Archived ${wf.name}`); reload();
    } catch (e) { setDialog(null); setError(e); }
  };

  const actions = perms.create_workflows && (
    <Fragment>
      <Link class="button" href="/templates">From template…</Link>
      <Link class="button primary" href="/workflows/new" data-shortcut="n">New workflow</Link>
    </Fragment>
  );
  return (
    <Layout active="workflows" title="Workflows" actions={actions}>
      <form class="mlops-filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search"><input type="search" value={f.q} placeholder="name or description" data-shortcut-focus="/"
                                    onInput={(e) => set("q", e.target.value)} /></Field>
        <Field label="Tag"><input type="text" value={f.tag} onChange={(e) => set("tag", e.target.value.trim())} /></Field>
        <Field label="Owner"><input type="text" value={f.owner} onChange={(e) => set("owner", e.target.value.trim())} /></Field>
        <Field label="Template">
          <select value={f.template_id} onChange={(e) => set("template_id", e.target.value)}>
            <option value="">any</option>
            {(templates ? templates.items : []).map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
          </select>
        </Field>
        <Field label="Active">
          <select value={f.active} onChange={(e) => set("active", e.target.value)}>
            <option value="">any</option><option value="true">active</option><option value="false">paused</option>
          </select>
        </Field>
        <Field label="Last run">
          <select value={f.last_run_state} onChange={(e) => set("last_run_state", e.target.value)}>
            <option value="">any</option>
            {["success", "failed", "running", "queued", "none"].map((s) => <option key={s} value={s}>{s === "none" ? "never run" : s}</option>)}
          </select>
        </Field>
        <Field label="Sort">
          <select value={f.sort} onChange={(e) => set("sort", e.target.value)}>
            {SORTS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
          </select>
        </Field>
        <LiveStatus status={status} />
      </form>
      <ErrorBanner error={error || loadError} onDismiss={error ? () => setError(null) : null} />
      <table class="mlops-table" id="mlops-workflows">
        <thead><tr><th>Name</th><th>Last run</th><th>Version</th><th>Owner</th><th>Tags</th><th>Updated</th><th><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {data && data.items.map((wf) => (
            <tr key={wf.id} data-workflow-id={wf.id} data-workflow-name={wf.name}>
              <td>
                <Link href={`/workflows/${enc(wf.id)}`} class="mlops-strong">{wf.name}</Link>
                {!wf.active && <span class="mlops-pill">paused</span>}
                {!wf.valid && <span class="mlops-pill danger" title={wf.errors.map((e) => `${e.path}: ${e.message}`).join("\n")}>invalid</span>}
                <div class="mlops-muted mlops-clip">{wf.description}</div>
              </td>
              <td>
                <StateBadge state={wf.last_run ? wf.last_run.state : "none"} />
                {wf.last_run && <div class="mlops-muted">{fmtTime(wf.last_run.run_after)}</div>}
              </td>
              <td><Link href={`/workflows/${enc(wf.id)}/versions`}>v{wf.version}</Link></td>
              <td>{wf.created_by}</td>
              <td>{wf.tags.map((t) => <button type="button" key={t} class="mlops-tag" onClick={() => set("tag", t)}>{t}</button>)}</td>
              <td>{fmtTime(wf.updated_at)}</td>
              <td class="mlops-row-actions">
                <Link href={`/workflows/${enc(wf.id)}`}>Open</Link>
                <Link href={`/workflows/${enc(wf.id)}/runs`}>Runs</Link>
                {perms.trigger_runs && <button type="button" onClick={() => setDialog({ kind: "trigger", wf })}>Trigger</button>}
                {perms.create_workflows && <button type="button" onClick={() => setDialog({ kind: "clone", wf })}>Clone</button>}
                {perms.delete_workflows && mayEdit(wf) && <button type="button" class="danger-text" onClick={() => setDialog({ kind: "archive", wf })}>Archive</button>}
              </td>
            </tr>
          ))}
          {data && data.items.length === 0 && <tr><td colSpan="7" class="mlops-empty">No workflows match.</td></tr>}
        </tbody>
      </table>
      {data && <Pager total={data.total} limit={PAGE} offset={f.offset} onChange={(o) => set("offset", o)} />}
      {dialog && dialog.kind === "archive" && (
        <Confirm title={`Archive ${dialog.wf.name}?`} danger confirmLabel="Archive"
                 message="Its DAG disappears from Airflow; versions, runs and the audit trail are kept."
                 onConfirm={() => archive(dialog.wf)} onCancel={() => setDialog(null)} />
      )}
      {dialog && dialog.kind === "clone" && <CloneDialog wf={dialog.wf} onClose={() => setDialog(null)} />}
      {dialog && dialog.kind === "trigger" && (
        <TriggerDialog workflow={dialog.wf} onClose={() => setDialog(null)}
                       onTriggered={(run) => { setDialog(null); showToast(`Triggered ${run.dag_run_id}`); reload(); }} />
      )}
      <Toast message={toast} />
    </Layout>
  );
}

export function CloneDialog({ wf, onClose }) {
  const [name, setName] = useState(`${wf.name}_copy`);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const clone = await api.post(`/workflows/${enc(wf.id)}/clone`, { name });
      go(`/workflows/${enc(clone.id)}`);
    } catch (err) { setError(err); setBusy(false); }
  };
  const nameError = error && error.errors.find((x) => x.path === "name");
  return (
    <Dialog title={`Clone ${wf.name}`} onClose={onClose}>
      <form onSubmit={submit}>
        <Field label="New workflow name" error={nameError && nameError.message}>
          <input type="text" value={name} required onInput={(e) => setName(e.target.value)} />
        </Field>
        {error && !nameError && <ErrorBanner error={error} />}
        <p class="mlops-muted">The clone starts paused, with the current version's tasks and parameters.</p>
        <div class="mlops-dialog-foot">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={busy}>Clone</button>
        </div>
      </form>
    </Dialog>
  );
}
