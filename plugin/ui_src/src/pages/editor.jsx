// The workflow editor: settings, typed parameters, tasks (Python code in a code editor, or a Docker container's
// settings), a live task graph, validation shown at the field as you type, a guard against leaving with unsaved
// changes, and a conflict (409) explained with reload / diff / keep mine.
// A new workflow is created as version 1. For an existing one, Save (Ctrl/Cmd+S) saves its draft: runs keep the
// published version until the draft is published (with a version message, after a review if required) or discarded.
// Test task / Test all run the saved draft on Airflow's workers first (test_runs.jsx).
import { h, Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { boot, perms, mayEdit, pageUrl } from "../boot.js";
import { Layout, Link, go, leaveGuard, Field, ErrorBanner, Confirm, Dialog, useToast, Toast, useLoad, errorsAt, firstMessage, fmtTime } from "../ui.jsx";
import { CodeEditor } from "../code_editor.jsx";
import { TaskGraph, cycleEdges } from "../graph.jsx";
import { SideBySideDiff, StructuredDiff, specOutline } from "../diffview.jsx";
import { TriggerDialog } from "./trigger.jsx";
import { TestPanel } from "../test_runs.jsx";
import { CloneDialog } from "./workflows.jsx";
import { NotificationsEditor, TestNotification, normalizeNotifications, channelCount } from "../notifications.jsx";
import { DockerForm, TASK_TYPES, emptyDocker, dockerToDraft, dockerToDocument, dockerDraftErrors, typeBadge, typeLabel } from "../docker_form.jsx";

const PARAM_TYPES = ["string", "integer", "number", "boolean", "enum", "array", "object"];
const TRIGGER_RULES = ["", "all_success", "all_failed", "all_done", "all_done_min_one_success", "all_skipped", "one_success",
  "one_failed", "one_done", "none_failed", "none_failed_min_one_success", "none_skipped", "always"];
const STARTER_CODE = "# `params`, `upstream` (results of upstream tasks) and `context` are available.\n" +
  "print(\"hello from\", context[\"task_instance\"].task_id)\nreturn {\"ok\": True}\n";
const SPEC_FIELDS = ["schema_version", "name", "description", "schedule", "tags", "owner", "params", "retries",
  "retry_delay_seconds", "execution_timeout_seconds", "tasks", "notifications"];

function newDraft() {
  return { name: "", description: "", schedule: null, tags: [], owner: boot.user, params: [], retries: 0,
    retry_delay_seconds: 300, execution_timeout_seconds: null,
    tasks: [{ name: "start", type: "python", code: STARTER_CODE, depends_on: [] }], notifications: normalizeNotifications(null) };
}

/** Server document -> editor draft (parameters as an ordered list, so they can be renamed). */
export function toDraft(wf) {
  const draft = {};
  for (const k of SPEC_FIELDS) if (k in wf) draft[k] = JSON.parse(JSON.stringify(wf[k]));
  draft.params = Object.entries(wf.params || {}).map(([name, p]) => ({ name, ...p }));
  draft.notifications = normalizeNotifications(wf.notifications);
  draft.tasks = (draft.tasks || []).map((t) => ({ ...t, docker: dockerToDraft(t.docker) }));
  return draft;
}

/** Editor draft -> the document the API takes. */
export function toDocument(draft) {
  const doc = { ...draft, params: {} };
  for (const { name, ...p } of draft.params) doc.params[name] = cleanParam(p);
  doc.tasks = draft.tasks.map((t) => {
    const out = { ...t };
    for (const k of ["map_over", "trigger_rule", "retries", "timeout_seconds"]) if (out[k] === "" || out[k] === undefined) delete out[k];
    // The draft keeps both a task's code and its container settings while the user switches the type; the document
    // carries only what the type uses.
    if (out.type === "docker") { out.code = ""; out.docker = dockerToDocument(t.docker); } else { out.docker = null; }
    return out;
  });
  return doc;
}

/** What a save would send, as text: equal for a draft and the saved workflow when nothing changed. */
function fingerprint(draft) {
  return JSON.stringify(toDocument(draft));
}

/** Problems the browser sees before the server does (see dockerDraftErrors). */
export function draftErrors(draft) {
  return draft.tasks.flatMap((t, i) => (t.type === "docker" ? dockerDraftErrors(t.docker, `tasks[${i}].docker`) : []));
}

/** The workflow's draft, or null when it has none. */
function getDraft(id) {
  return api.get(`/workflows/${enc(id)}/draft`).catch((e) => { if (e.status === 404) return null; throw e; });
}

/** Only the spec of a workflow as GET returns it (no id, revision, ...): what a diff shows. */
function specOf(w) {
  return Object.fromEntries(SPEC_FIELDS.filter((k) => k in w).map((k) => [k, w[k]]));
}

function cleanParam(p) {
  const out = { ...p };
  for (const k of ["minimum", "maximum", "enum", "items"]) if (out[k] === null || out[k] === undefined || out[k] === "") delete out[k];
  return out;
}

export function EditorPage() {
  const id = boot.ids.workflow_id;
  const [wf, setWf] = useState(null);            // the published workflow (server state)
  const [savedDraft, setSavedDraft] = useState(null);  // its draft as saved (GET .../draft); null: none
  const [draft, setDraft] = useState(id ? null : newDraft());
  const [serverErrors, setErrors] = useState([]);
  const [loadError, setLoadError] = useState(null);
  const [saveError, setSaveError] = useState(null);
  const [conflict, setConflict] = useState(null); // what someone else saved meanwhile: { spec, label, what, draftRevision }
  const [message, setMessage] = useState("");
  const [saving, setSaving] = useState(false);
  const [tab, setTab] = useState("tasks");
  const [generation, setGeneration] = useState(0);  // bumped when the draft is replaced from outside
  const [selected, setSelected] = useState(0);
  const [dialog, setDialog] = useState(null);
  const [toast, showToast] = useToast();
  // The deployment-wide channels (any reader may see them); the section says so if they cannot be loaded.
  const [notifyDefaults, notifyDefaultsError] = useLoad(() => api.get("/notifications/defaults"), []);
  const saved = useRef(id ? null : fingerprint(newDraft()));
  const readOnly = id ? !(wf && mayEdit(wf)) : !perms.create_workflows;

  const base = `/workflows/${enc(id)}`;
  /** Show the published workflow and its draft: the form holds the draft when there is one. */
  const show = (w, sd) => {
    const d = toDraft(sd ? sd.spec : w);
    setWf(w); setSavedDraft(sd); setDraft(d); setErrors(sd ? [] : w.errors || []); saved.current = fingerprint(d);
    setGeneration((g) => g + 1); setConflict(null); setSaveError(null);
  };
  const load = async () => {
    try {
      const [w, sd] = await Promise.all([api.get(base), getDraft(id)]);
      show(w, sd);
    } catch (e) { setLoadError(e); }
  };
  useEffect(() => { if (id) load(); }, [id]);

  const dirty = draft !== null && saved.current !== null && fingerprint(draft) !== saved.current;
  const localErrors = draft ? draftErrors(draft) : [];
  const errors = localErrors.length ? [...serverErrors, ...localErrors] : serverErrors;

  // Live validation, debounced: the same checks a save runs (names, schedule, params, cycles, code syntax).
  useEffect(() => {
    if (!draft || readOnly) return undefined;
    const t = setTimeout(async () => {
      try {
        const result = await api.post("/validate", toDocument(draft));
        setErrors(result.errors);
      } catch (e) { /* validation is advisory; a save reports for real */ }
    }, 350);
    return () => clearTimeout(t);
  }, [JSON.stringify(draft)]);

  // Unsaved changes: the browser's prompt for reloads/closing; an in-page dialog for links of these pages.
  useEffect(() => {
    // Not once the user confirmed leaving (or the page navigates itself after a save): the guard is cleared then.
    const onBefore = (e) => { if (dirty && leaveGuard.current) { e.preventDefault(); e.returnValue = ""; } };
    window.addEventListener("beforeunload", onBefore);
    leaveGuard.current = (url) => {
      if (!dirty) return false;
      setDialog({ kind: "leave", url });
      return true;
    };
    return () => { window.removeEventListener("beforeunload", onBefore); leaveGuard.current = null; };
  }, [dirty]);

  /** Create the workflow, or save its draft. ``force``: over what someone else saved (the conflict banner). */
  const save = async ({ force, rebase } = {}) => {
    if (readOnly || saving || !draft) return;
    if (localErrors.length) {
      setSaveError({ message: "Not saved: fix the problems marked in the form first.", errors: localErrors });
      return;
    }
    setSaving(true); setSaveError(null);
    const doc = toDocument(draft);
    try {
      if (!id) {
        const result = await api.post("/workflows", { ...doc, message: message.trim() || undefined });
        saved.current = fingerprint(toDraft(result)); leaveGuard.current = null;
        window.location.replace(pageUrl(`/workflows/${enc(result.id)}`));
        return;
      }
      // A first draft starts from the version published now: if that is not the one this page shows, say so.
      const now = savedDraft || force ? wf : await api.get(base);
      if (now.version !== wf.version) {
        setConflict({ spec: now, label: `v${now.version}`, what: `published version ${now.version} (by ${now.updated_by})` });
        return;
      }
      const revision = force ? conflict && conflict.draftRevision : savedDraft && savedDraft.revision;
      const result = await api.put(`${base}/draft`, { ...doc, revision: revision || undefined, rebase: rebase || undefined,
                                                       base_version: savedDraft ? undefined : wf.version });
      const d = toDraft(result.spec);
      saved.current = fingerprint(d);
      setSavedDraft(result); setDraft(d); setErrors([]); setConflict(null);
      if (result.published_version !== wf.version) setWf(await api.get(base));
      showToast(rebase ? `Draft rebased on version ${result.base_version}` : "Draft saved (not published)");
    } catch (e) {
      const sd = id && (e.status === 409 || e.status === 428) ? await getDraft(id).catch(() => null) : null;
      if (sd) {  // someone else saved the draft meanwhile
        setConflict({ spec: sd.spec, label: "their draft", what: `saved this workflow's draft (by ${sd.updated_by})`, draftRevision: sd.revision });
      } else {
        if (e.errors && e.errors.length) setErrors(e.errors);
        setSaveError(e);
      }
    } finally { setSaving(false); }
  };
  // The saved draft's actions. Publishing answers with the new version; the review calls with the draft as it is now.
  const closeDialog = () => setDialog(null);
  const publish = async (text) => {
    const result = await api.post(`${base}/draft/publish`, { message: text.trim(), revision: savedDraft.revision });
    show(result, null); setDialog(null); showToast(`Published version ${result.version}`);
  };
  const discard = async () => {
    setDialog(null);
    try { await api.del(`${base}/draft`, savedDraft.revision); await load(); showToast("Draft discarded"); } catch (e) { setSaveError(e); }
  };
  const review = (action, body) => async (text) => {
    setSavedDraft(await api.post(`${base}/draft/${action}`, { ...body, comment: text.trim(), revision: savedDraft.revision }));
    setDialog(null);
  };
  const saveRef = useRef(save);
  saveRef.current = save;

  useEffect(() => {
    const onKey = (e) => {
      if ((e.ctrlKey || e.metaKey) && (e.key === "s" || e.key === "S")) { e.preventDefault(); saveRef.current(); }
    };
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, []);

  if (loadError) return <Layout active="workflows" title="Workflow"><ErrorBanner error={loadError} /></Layout>;
  if (!draft) return <Layout active="workflows" title="Loading…"><p class="mlops-loading">Loading…</p></Layout>;

  const update = (patch) => setDraft({ ...draft, ...patch });
  const tasks = draft.tasks;
  const sel = Math.min(selected, tasks.length - 1);
  const setTask = (i, patch) => update({ tasks: tasks.map((t, j) => (j === i ? { ...t, ...patch } : t)) });
  const renameTask = (i, name) => {
    const old = tasks[i].name;
    update({ tasks: tasks.map((t, j) => (j === i ? { ...t, name } : { ...t,
      depends_on: (t.depends_on || []).map((d) => (d === old ? name : d)), map_over: t.map_over === old ? name : t.map_over })) });
  };
  const addTask = () => {
    let n = tasks.length + 1;
    while (tasks.some((t) => t.name === `task_${n}`)) n++;
    const upstream = tasks.length ? [tasks[tasks.length - 1].name] : [];
    update({ tasks: [...tasks, { name: `task_${n}`, type: "python", code: STARTER_CODE, depends_on: upstream }] });
    setSelected(tasks.length); setTab("tasks");
  };
  const removeTask = (i) => {
    const gone = tasks[i].name;
    update({ tasks: tasks.filter((_, j) => j !== i).map((t) => ({ ...t, depends_on: (t.depends_on || []).filter((d) => d !== gone),
      map_over: t.map_over === gone ? null : t.map_over })) });
    setSelected(Math.max(0, i - 1)); setDialog(null); setGeneration((g) => g + 1);
  };
  const cycle = cycleEdges(errors);
  const taskErrorCount = (i) => errorsAt(errors, `tasks[${i}]`).length;
  const settingsErrors = errors.filter((e) => !e.path.startsWith("tasks") && !e.path.startsWith("params") && !e.path.startsWith("notifications")).length;
  const paramsErrors = errorsAt(errors, "params").length;
  const notifyErrors = errorsAt(errors, "notifications").length;
  const notifications = draft.notifications || normalizeNotifications(null);

  const title = id ? (wf ? wf.name : "…") : "New workflow";
  const actions = (
    <Fragment>
      {id && <Link class="button" href={`/workflows/${enc(id)}/versions`}>Versions</Link>}
      {id && <Link class="button" href={`/workflows/${enc(id)}/runs`}>Runs</Link>}
      {id && perms.create_workflows && <button type="button" onClick={() => setDialog({ kind: "clone" })}>Clone</button>}
      {id && perms.trigger_runs && <button type="button" onClick={() => setDialog({ kind: "trigger" })}
                                           title={savedDraft || dirty ? `Runs published version ${wf && wf.version}, not the draft` : "Trigger a run"}>Trigger</button>}
    </Fragment>
  );
  const crumbs = <Fragment><Link href="/">Workflows</Link> / {title}</Fragment>;

  return (
    <Layout active="workflows" title={title} actions={actions} crumbs={crumbs}>
      {readOnly && <div class="mlops-banner info" role="note">Read-only: {perms.edit_workflows ? `this workflow belongs to ${wf && wf.created_by}.` : "your role may view workflows but not change them."}</div>}
      {conflict && (
        <div class="mlops-banner warning" role="alert" id="mlops-conflict">
          <span><b>Someone else {conflict.what}</b> after you opened it. Your changes are not saved.</span>
          <div class="mlops-banner-actions">
            <button type="button" onClick={() => setDialog({ kind: "conflict-diff" })}>Show diff</button>
            <button type="button" onClick={load}>Reload (discard mine)</button>
            <button type="button" class="danger" onClick={() => save({ force: true })}>Save mine over it</button>
          </div>
        </div>
      )}
      {savedDraft && <DraftBanner sd={savedDraft} readOnly={readOnly} dirty={dirty} open={(kind) => setDialog({ kind })} />}
      {saveError && <ErrorBanner error={saveError} onDismiss={() => setSaveError(null)} />}
      {!readOnly && (
        <form class="mlops-savebar" onSubmit={(e) => { e.preventDefault(); save(); }}>
          {!id && <Field label="Version message"><input type="text" value={message} maxLength={1000} placeholder="what changed (optional)"
                                                       onInput={(e) => setMessage(e.target.value)} /></Field>}
          <button type="submit" class="primary" disabled={saving}
                  title={id ? "Save the draft (Ctrl/Cmd+S): runs keep the published version until you publish" : "Create (Ctrl/Cmd+S)"}>
            {saving ? "Saving…" : id ? "Save draft" : "Create"}</button>
          <span id="mlops-save-status" class={`mlops-status${errors.length ? " bad" : ""}`} aria-live="polite">
            {errors.length ? `${errors.length} problem${errors.length > 1 ? "s" : ""}` : dirty ? "Unsaved changes"
              : savedDraft ? "Draft saved · not published" : wf ? `Saved · v${wf.version}` : ""}
          </span>
        </form>
      )}
      <div class="mlops-editor">
        <section class="mlops-editor-main">
          <div class="mlops-subtabs" role="tablist">
            {[["tasks", `Tasks (${tasks.length})`, tasks.some((_, i) => taskErrorCount(i))], ["params", `Parameters (${draft.params.length})`, paramsErrors],
              ["settings", "Settings", settingsErrors], ["notifications", `Notifications (${channelCount(notifications)})`, notifyErrors]].map(([key, label, bad]) => (
              <button type="button" role="tab" key={key} aria-selected={tab === key} class={tab === key ? "active" : ""}
                      onClick={() => setTab(key)}>{label}{bad ? <span class="mlops-dot" aria-label="has errors" /> : null}</button>
            ))}
          </div>
          {tab === "settings" && <SettingsForm draft={draft} update={update} errors={errors} readOnly={readOnly} />}
          {tab === "params" && <ParamsEditor draft={draft} update={update} errors={errors} readOnly={readOnly} />}
          {tab === "notifications" && (
            <Fragment>
              <NotificationsEditor value={notifications} onChange={(n) => update({ notifications: n })} errors={errors} readOnly={readOnly}
                                   defaults={notifyDefaults} defaultsError={notifyDefaultsError} />
              {!readOnly && (id && wf
                ? <TestNotification workflow={wf} dirty={dirty} draft={!!savedDraft} defaults={notifyDefaults} />
                : <p class="mlops-hint">Create the workflow to send a test notification.</p>)}
            </Fragment>
          )}
          {tab === "tasks" && (
            <div class="mlops-tasks">
              <ul class="mlops-task-list" aria-label="Tasks">
                {tasks.map((t, i) => (
                  <li key={i}>
                    <button type="button" class={i === sel ? "active" : ""} aria-current={i === sel ? "true" : undefined} data-task-button={t.name}
                            onClick={() => setSelected(i)}>
                      <span class="mlops-task-name">{t.name || <i>unnamed</i>}</span>
                      {typeBadge(t.type) && <span class="mlops-type-badge" data-type={t.type} title={typeLabel(t.type)}>{typeBadge(t.type)}</span>}
                      {taskErrorCount(i) ? <span class="mlops-dot" aria-label="has errors" /> : null}
                    </button>
                  </li>
                ))}
                {!readOnly && <li><button type="button" class="mlops-add" onClick={addTask}>+ Add task</button></li>}
              </ul>
              {tasks[sel] && <TaskForm key={`${sel}:${generation}`} index={sel} task={tasks[sel]} tasks={tasks} errors={errors} readOnly={readOnly}
                                       setTask={setTask} renameTask={renameTask}
                                       onRemove={() => setDialog({ kind: "remove", index: sel })} />}
            </div>
          )}
        </section>
        <aside class="mlops-editor-side">
          <h2>Task graph</h2>
          <div class="mlops-graph-box" id="mlops-editor-graph">
            <TaskGraph tasks={tasks} errors={errors} direction="TB" selected={tasks[sel] && tasks[sel].name}
                       onSelect={(name) => { setSelected(tasks.findIndex((t) => t.name === name)); setTab("tasks"); }} />
          </div>
          {cycle.edges.size > 0 && <p class="mlops-error" role="alert">Dependency cycle (marked in red).</p>}
          {id && wf && !readOnly && (
            <TestPanel key={saved.current} workflowId={id} params={JSON.parse(saved.current).params}
                       task={tasks[sel] && tasks[sel].name} taskType={tasks[sel] && tasks[sel].type}
                       source={savedDraft ? "saved draft" : `published version ${wf.version}`}
                       blocked={dirty ? "Save the draft first: tests run the saved draft" : null} />
          )}
          {errors.length > 0 && (
            <div class="mlops-problems">
              <h2>Problems</h2>
              <ul>{errors.map((e, i) => <li key={i}><button type="button" class="link" onClick={() => jumpTo(e.path, setTab, setSelected)}><code>{e.path}</code></button> {e.message}</li>)}</ul>
            </div>
          )}
        </aside>
      </div>
      {dialog && dialog.kind === "leave" && (
        <Confirm title="Leave without saving?" danger confirmLabel="Discard changes and leave"
                 message="This workflow has unsaved changes. They will be lost."
                 onConfirm={() => { leaveGuard.current = null; window.location.assign(dialog.url); }} onCancel={() => setDialog(null)} />
      )}
      {dialog && dialog.kind === "remove" && (
        <Confirm title={`Remove task ${tasks[dialog.index].name}?`} danger confirmLabel="Remove task"
                 message="Tasks that depend on it lose that dependency. Nothing is saved until you save."
                 onConfirm={() => removeTask(dialog.index)} onCancel={() => setDialog(null)} />
      )}
      {dialog && dialog.kind === "conflict-diff" && conflict && (
        <Dialog title={`Your changes vs ${conflict.label}`} wide onClose={closeDialog}>
          <ConflictDiff theirs={toDocument(toDraft(conflict.spec))} mine={toDocument(draft)} label={conflict.label} />
        </Dialog>
      )}
      {dialog && dialog.kind === "changes" && (
        <Dialog title={`Changes: the draft vs published version ${wf.version}`} wide onClose={closeDialog}>
          <DraftChanges id={id} dirty={dirty} />
        </Dialog>
      )}
      {dialog && dialog.kind === "publish" && savedDraft && (
        <TextDialog title={`Publish the draft as version ${savedDraft.published_version + 1}?`} label="Version message"
                    placeholder="what changed" confirmLabel="Publish" onSubmit={publish} onClose={closeDialog}
                    intro="Scheduled and triggered runs then execute it. The draft is gone once published." />
      )}
      {dialog && dialog.kind === "discard" && savedDraft && (
        <Confirm title="Discard the draft?" danger confirmLabel="Discard draft" onConfirm={discard} onCancel={closeDialog}
                 message={`The draft${dirty ? " and your unsaved changes" : ""} will be lost; the form shows published version ${wf.version} again.`} />
      )}
      {dialog && dialog.kind === "rebase" && savedDraft && (
        <Confirm title={`Rebase the draft on version ${savedDraft.published_version}?`} confirmLabel="Rebase draft"
                 onConfirm={() => { setDialog(null); save({ rebase: true }); }} onCancel={closeDialog}
                 message={`Version ${savedDraft.published_version} was published after this draft was started from version ${savedDraft.base_version}. ` +
                   `Publishing the rebased draft replaces version ${savedDraft.published_version} with the form as it is: ` +
                   "look at Changes first for anything the draft would undo."} />
      )}
      {dialog && dialog.kind === "request-review" && savedDraft && (
        <TextDialog title="Request a review" label="Comment for the reviewer" multiline confirmLabel="Request review"
                    onSubmit={review("review-request", {})} onClose={closeDialog} />
      )}
      {dialog && (dialog.kind === "approve" || dialog.kind === "reject") && savedDraft && (
        <TextDialog title={dialog.kind === "approve" ? "Approve the draft" : "Reject the draft"} label="Comment" multiline
                    confirmLabel={dialog.kind === "approve" ? "Approve draft" : "Reject draft"} danger={dialog.kind === "reject"}
                    onSubmit={review("review", { decision: dialog.kind })} onClose={closeDialog} />
      )}
      {dialog && dialog.kind === "clone" && wf && <CloneDialog wf={wf} onClose={() => setDialog(null)} />}
      {dialog && dialog.kind === "trigger" && wf && (
        <TriggerDialog workflow={wf} onClose={() => setDialog(null)}
                       onTriggered={() => { leaveGuard.current = null; go(`/workflows/${enc(id)}/runs`); }} />
      )}
      <Toast message={toast} />
    </Layout>
  );
}

function jumpTo(path, setTab, setSelected) {
  const m = /^tasks\[(\d+)\]/.exec(path);
  if (m) { setTab("tasks"); setSelected(parseInt(m[1], 10)); } else {
    setTab(path.startsWith("params") ? "params" : path.startsWith("notifications") ? "notifications" : "settings");
  }
}

function ConflictDiff({ theirs, mine, label }) {
  const names = [...new Set([...theirs.tasks.map((t) => t.name), ...mine.tasks.map((t) => t.name)])];
  const code = (doc, n) => { const t = doc.tasks.find((x) => x.name === n); return t ? t.code : ""; };
  return (
    <div class="mlops-diff-set">
      <h3>Settings, parameters and dependencies</h3>
      <SideBySideDiff oldText={specOutline(theirs)} newText={specOutline(mine)} oldLabel={label} newLabel="yours" />
      {names.filter((n) => code(theirs, n) !== code(mine, n)).map((n) => (
        <Fragment key={n}>
          <h3>Task {n}</h3>
          <SideBySideDiff oldText={code(theirs, n)} newText={code(mine, n)} oldLabel={label} newLabel="yours" />
        </Fragment>
      ))}
    </div>
  );
}

/** The saved draft: what it is based on, who saved it, whether it is stale, its review, and what may be done with it. */
function DraftBanner({ sd, readOnly, dirty, open }) {
  const r = sd.review;
  const mine = [sd.updated_by, r.requested_by].includes(boot.user);  // the server lets nobody review their own draft
  // Reviewers publish their own drafts without a review (the server decides; its 409 is shown if it refuses).
  const reviewer = "review_drafts" in perms ? perms.review_drafts : perms.manage_all_workflows;
  const blocked = dirty ? "Save the draft first: Publish publishes the saved draft" : sd.stale ? "Rebase the draft first"
    : r.required && r.state !== "approved" && !reviewer ? "Publishing needs an approved review" : null;
  return (
    <div class="mlops-banner draft" id="mlops-draft" role="region" aria-label="Draft">
      <div class="mlops-banner-text">
        <div><b>Draft — not published.</b> Based on version {sd.base_version}, saved by {sd.updated_by} {fmtTime(sd.updated_at)}.
          Runs use the published version {sd.published_version}.</div>
        {sd.stale && <div class="mlops-draft-stale" id="mlops-draft-stale">Stale: version {sd.published_version} was published since.</div>}
        {(r.required || r.state !== "none") && <ReviewState review={r} />}
      </div>
      <div class="mlops-banner-actions">
        <button type="button" onClick={() => open("changes")}>Changes</button>
        {!readOnly && sd.stale && <button type="button" onClick={() => open("rebase")}>Rebase</button>}
        {!readOnly && r.required && mine && r.state !== "requested" &&
          <button type="button" disabled={dirty} title={dirty ? "Save the draft first" : null} onClick={() => open("request-review")}>Request review</button>}
        {perms.edit_workflows && !mine && r.state === "requested" && (
          <Fragment>
            <button type="button" onClick={() => open("approve")}>Approve</button>
            <button type="button" onClick={() => open("reject")}>Reject</button>
          </Fragment>
        )}
        {!readOnly && <button type="button" class="primary" disabled={!!blocked} title={blocked || "Publish the draft as the new version"}
                              onClick={() => open("publish")}>Publish</button>}
        {!readOnly && <button type="button" class="danger-text" onClick={() => open("discard")}>Discard</button>}
      </div>
    </div>
  );
}

function ReviewState({ review: r }) {
  const text = { none: "not requested", requested: `requested by ${r.requested_by}`, approved: `approved by ${r.reviewed_by}`,
    rejected: `rejected by ${r.reviewed_by}` }[r.state] || r.state;
  return (
    <div class="mlops-review" id="mlops-review" data-review-state={r.state}>
      Review{r.required ? " (required to publish)" : ""}: <b>{text}</b>{r.reviewed_at ? ` ${fmtTime(r.reviewed_at)}` : ""}
      {r.comment && <Fragment> — <q class="mlops-review-comment">{r.comment}</q></Fragment>}
    </div>
  );
}

/** What publishing the saved draft would change: GET .../draft/diff with both specs. */
function DraftChanges({ id, dirty }) {
  const [data, error] = useLoad(() => Promise.all([api.get(`/workflows/${enc(id)}/draft/diff`), api.get(`/workflows/${enc(id)}`), getDraft(id)]), [id]);
  if (error) return <ErrorBanner error={error} />;
  if (!data) return <p class="mlops-loading">Loading changes…</p>;
  const [diff, published, sd] = data;
  return (
    <section class="mlops-diff-set" id="mlops-draft-diff" aria-label="Changes of the draft">
      {dirty && <p class="mlops-hint">Your unsaved changes are not included: save the draft to see them here.</p>}
      <StructuredDiff diff={diff} oldSpec={specOf(published)} newSpec={specOf(sd ? sd.spec : published)}
                      oldLabel={`published v${published.version}`} newLabel="draft" />
    </section>
  );
}

/** Asks for a text (a version message, a review comment), then shows the server's refusal in place, if any. */
function TextDialog({ title, label, placeholder, intro, confirmLabel, danger, multiline, onSubmit, onClose }) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try { await onSubmit(text); } catch (err) { setError(err); setBusy(false); }
  };
  const input = (e) => setText(e.target.value);
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={submit}>
        {intro && <p>{intro}</p>}
        <ErrorBanner error={error} />
        <Field label={label}>{multiline
          ? <textarea rows="3" value={text} maxLength={1000} placeholder={placeholder} onInput={input} />
          : <input type="text" value={text} maxLength={1000} placeholder={placeholder} onInput={input} />}</Field>
        <div class="mlops-dialog-foot">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class={danger ? "danger" : "primary"} disabled={busy}>{confirmLabel}</button>
        </div>
      </form>
    </Dialog>
  );
}

function TaskForm({ index, task, tasks, errors, readOnly, setTask, renameTask, onRemove }) {
  const p = `tasks[${index}]`;
  const others = tasks.filter((t, j) => j !== index && t.name);
  const deps = task.depends_on || [];
  const toggleDep = (name, on) => setTask(index, { depends_on: on ? [...deps, name] : deps.filter((d) => d !== name) });
  const type = task.type || "python";
  // The other type's content stays in the draft (switch back and it is there); a save sends only this type's.
  const changeType = (next) => setTask(index, { type: next,
    ...(next === "docker" && !task.docker ? { docker: emptyDocker() } : {}),
    ...(next !== "docker" && !task.code ? { code: STARTER_CODE } : {}) });
  const typeHint = type === "branch" ? "returns the name(s) of the downstream task(s) to follow"
    : type === "docker" ? "runs a container image" : "runs the code";
  return (
    <div class="mlops-task-form" data-task={task.name} data-type={type}>
      <div class="mlops-grid3">
        <Field label="Task name" error={firstMessage(errors, `${p}.name`)}>
          <input type="text" value={task.name} disabled={readOnly} onInput={(e) => renameTask(index, e.target.value)} />
        </Field>
        <Field label="Type" error={firstMessage(errors, `${p}.type`)} hint={typeHint}>
          <select value={type} disabled={readOnly} onChange={(e) => changeType(e.target.value)}>
            {TASK_TYPES.map(([k, text]) => <option key={k} value={k}>{text}</option>)}
          </select>
        </Field>
        <Field label="Trigger rule" error={firstMessage(errors, `${p}.trigger_rule`)}>
          <select value={task.trigger_rule || ""} disabled={readOnly} onChange={(e) => setTask(index, { trigger_rule: e.target.value || null })}>
            {TRIGGER_RULES.map((r) => <option key={r} value={r}>{r || "default (all_success)"}</option>)}
          </select>
        </Field>
      </div>
      <fieldset class={`mlops-deps${errorsAt(errors, `${p}.depends_on`).length ? " has-error" : ""}`}>
        <legend>Depends on</legend>
        {others.length === 0 && <span class="mlops-muted">No other tasks.</span>}
        {others.map((t) => (
          <label key={t.name} class="mlops-check">
            <input type="checkbox" disabled={readOnly} checked={deps.includes(t.name)} onChange={(e) => toggleDep(t.name, e.target.checked)} />
            {" "}{t.name}
          </label>
        ))}
        {firstMessage(errors, `${p}.depends_on`) && <div class="mlops-error" role="alert">{firstMessage(errors, `${p}.depends_on`)}</div>}
      </fieldset>
      <div class="mlops-grid3">
        <Field label="Map over (upstream task)" error={firstMessage(errors, `${p}.map_over`)}
               hint={type === "docker" ? "not for docker tasks" : "run once per item of that task's list result"}>
          <select value={task.map_over || ""} disabled={readOnly} onChange={(e) => setTask(index, { map_over: e.target.value || null })}>
            <option value="">no mapping</option>
            {deps.map((d) => <option key={d} value={d}>{d}</option>)}
          </select>
        </Field>
        <Field label="Retries" error={firstMessage(errors, `${p}.retries`)} hint="empty: the workflow's setting">
          <input type="number" min="0" value={task.retries ?? ""} disabled={readOnly}
                 onInput={(e) => setTask(index, { retries: e.target.value === "" ? null : parseInt(e.target.value, 10) })} />
        </Field>
        <Field label="Timeout (seconds)" error={firstMessage(errors, `${p}.timeout_seconds`)}>
          <input type="number" min="0" value={task.timeout_seconds ?? ""} disabled={readOnly}
                 onInput={(e) => setTask(index, { timeout_seconds: e.target.value === "" ? null : parseInt(e.target.value, 10) })} />
        </Field>
      </div>
      {type === "docker"
        ? <DockerForm index={index} docker={task.docker} errors={errors} readOnly={readOnly}
                      set={(patch) => setTask(index, { docker: { ...(task.docker || emptyDocker()), ...patch } })} />
        : (
          <div class={`mlops-field${errorsAt(errors, `${p}.code`).length ? " has-error" : ""}`}>
            <span class="mlops-label" id={`code-label-${index}`}>Code (Python; the body of a function)</span>
            <CodeEditor value={task.code} readOnly={readOnly} errors={errorsAt(errors, `${p}.code`)} label={`Code of task ${task.name}`}
                        onChange={(code) => setTask(index, { code })} />
            {firstMessage(errors, `${p}.code`) && <div class="mlops-error" role="alert" data-code-error>{firstMessage(errors, `${p}.code`)}</div>}
            {firstMessage(errors, `${p}.docker`) && <div class="mlops-error" role="alert">{firstMessage(errors, `${p}.docker`)}</div>}
          </div>
        )}
      {!readOnly && <button type="button" class="danger-text" onClick={onRemove}>Remove task</button>}
    </div>
  );
}

function SettingsForm({ draft, update, errors, readOnly }) {
  const num = (v) => (v === "" ? null : Number(v));
  return (
    <div class="mlops-settings">
      <Field label="Name (the Airflow DAG id)" error={firstMessage(errors, "name")}>
        <input type="text" value={draft.name} disabled={readOnly} onInput={(e) => update({ name: e.target.value })} />
      </Field>
      <Field label="Description" error={firstMessage(errors, "description")}>
        <textarea rows="3" value={draft.description} disabled={readOnly} onInput={(e) => update({ description: e.target.value })} />
      </Field>
      <div class="mlops-grid3">
        <Field label="Schedule" error={firstMessage(errors, "schedule")} hint="cron or preset (@daily); empty: manual only">
          <input type="text" value={draft.schedule || ""} disabled={readOnly} onInput={(e) => update({ schedule: e.target.value || null })} />
        </Field>
        <Field label="Owner" error={firstMessage(errors, "owner")}>
          <input type="text" value={draft.owner} disabled={readOnly} onInput={(e) => update({ owner: e.target.value })} />
        </Field>
        <Field label="Tags (comma separated)" error={firstMessage(errors, "tags")}>
          <input type="text" value={(draft.tags || []).join(", ")} disabled={readOnly}
                 onChange={(e) => update({ tags: e.target.value.split(",").map((s) => s.trim()).filter(Boolean) })} />
        </Field>
        <Field label="Retries" error={firstMessage(errors, "retries")}>
          <input type="number" min="0" value={draft.retries} disabled={readOnly} onInput={(e) => update({ retries: num(e.target.value) ?? 0 })} />
        </Field>
        <Field label="Retry delay (seconds)" error={firstMessage(errors, "retry_delay_seconds")}>
          <input type="number" min="0" value={draft.retry_delay_seconds} disabled={readOnly} onInput={(e) => update({ retry_delay_seconds: num(e.target.value) ?? 0 })} />
        </Field>
        <Field label="Run timeout (seconds)" error={firstMessage(errors, "execution_timeout_seconds")} hint="per task; empty: none">
          <input type="number" min="0" value={draft.execution_timeout_seconds ?? ""} disabled={readOnly} onInput={(e) => update({ execution_timeout_seconds: num(e.target.value) })} />
        </Field>
      </div>
    </div>
  );
}

function ParamsEditor({ draft, update, errors, readOnly }) {
  const params = draft.params;
  const set = (i, patch) => update({ params: params.map((p, j) => (j === i ? { ...p, ...patch } : p)) });
  const add = () => {
    let n = params.length + 1;
    while (params.some((p) => p.name === `param_${n}`)) n++;
    update({ params: [...params, { name: `param_${n}`, type: "string", default: "", description: "" }] });
  };
  return (
    <div class="mlops-params-editor">
      {params.length === 0 && <p class="mlops-muted">No parameters. Parameters become typed fields of the trigger form (Airflow Params).</p>}
      {params.map((p, i) => <ParamRow key={i} index={i} param={p} errors={errorsAt(errors, `params.${p.name}`)} readOnly={readOnly}
                                      set={(patch) => set(i, patch)} remove={() => update({ params: params.filter((_, j) => j !== i) })} />)}
      {!readOnly && <button type="button" class="mlops-add" onClick={add}>+ Add parameter</button>}
    </div>
  );
}

function jsonText(v) { return v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v); }

function ParamRow({ index, param, errors, readOnly, set, remove }) {
  const msg = (suffix) => { const e = errors.filter((x) => x.path.endsWith(suffix)); return e.length ? e.map((x) => x.message).join("; ") : null; };
  const [defaultText, setDefaultText] = useState(jsonText(param.default));
  const [enumText, setEnumText] = useState((param.enum || []).map(jsonText).join(", "));
  const numeric = param.type === "integer" || param.type === "number";
  const parseDefault = (text, type) => {
    if (text === "") return null;
    if (type === "string") return text;
    if (type === "boolean") return text === "true";
    try { return JSON.parse(text); } catch (e) { return text; }
  };
  const other = errors.filter((x) => !/\.(name|type|default|description|minimum|maximum|enum|required)$/.test(x.path));
  return (
    <fieldset class={`mlops-param${errors.length ? " has-error" : ""}`} data-param={param.name}>
      <legend>Parameter {index + 1}</legend>
      <div class="mlops-grid4">
        <Field label="Name" error={msg(".name") || (other.length ? other.map((x) => x.message).join("; ") : null)}>
          <input type="text" value={param.name} disabled={readOnly} onInput={(e) => set({ name: e.target.value })} />
        </Field>
        <Field label="Type" error={msg(".type")}>
          <select value={param.type} disabled={readOnly} onChange={(e) => set({ type: e.target.value, default: parseDefault(defaultText, e.target.value) })}>
            {PARAM_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </Field>
        <Field label="Default" error={msg(".default")} hint={param.type === "array" || param.type === "object" ? "JSON" : null}>
          {param.type === "boolean"
            ? <select value={String(!!param.default)} disabled={readOnly} onChange={(e) => set({ default: e.target.value === "true" })}>
                <option value="false">false</option><option value="true">true</option></select>
            : <input type="text" value={defaultText} disabled={readOnly}
                     onInput={(e) => { setDefaultText(e.target.value); set({ default: parseDefault(e.target.value, param.type) }); }} />}
        </Field>
        <label class="mlops-check mlops-inline"><input type="checkbox" checked={!!param.required} disabled={readOnly}
                                                       onChange={(e) => set({ required: e.target.checked })} /> required</label>
      </div>
      <Field label="Description" error={msg(".description")}>
        <input type="text" value={param.description || ""} disabled={readOnly} onInput={(e) => set({ description: e.target.value })} />
      </Field>
      <div class="mlops-grid4">
        {numeric && <Field label="Minimum" error={msg(".minimum")}>
          <input type="number" step="any" value={param.minimum ?? ""} disabled={readOnly} onInput={(e) => set({ minimum: e.target.value === "" ? null : Number(e.target.value) })} />
        </Field>}
        {numeric && <Field label="Maximum" error={msg(".maximum")}>
          <input type="number" step="any" value={param.maximum ?? ""} disabled={readOnly} onInput={(e) => set({ maximum: e.target.value === "" ? null : Number(e.target.value) })} />
        </Field>}
        {(param.type === "enum" || param.type === "string" || numeric) && <Field label="Allowed values (comma separated)" error={msg(".enum")}>
          <input type="text" value={enumText} disabled={readOnly}
                 onInput={(e) => { setEnumText(e.target.value); const items = e.target.value.split(",").map((s) => s.trim()).filter(Boolean);
                   set({ enum: items.length ? items.map((s) => (numeric ? Number(s) : parseDefault(s, param.type))) : null }); }} />
        </Field>}
      </div>
      {!readOnly && <button type="button" class="danger-text" onClick={remove}>Remove parameter</button>}
    </fieldset>
  );
}
