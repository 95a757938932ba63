// Templates: a gallery (name, description, category, usage count), a preview of each task graph, and an
// instantiate dialog whose form is generated from the template's typed parameters.
import { h, Fragment } from "preact";
import { useState } from "preact/hooks";
import { api, query, enc } from "../api.js";
import { perms } from "../boot.js";
import { Layout, go, Dialog, Field, ErrorBanner, useLoad } from "../ui.jsx";
import { TaskGraph } from "../graph.jsx";
import { ParamsForm, useParamsForm } from "../params.jsx";

const CATEGORIES = ["general", "ml_training", "data_pipeline", "inference", "tuning", "monitoring"];
const label = (c) => c.replace(/_/g, " ");

export function TemplatesPage() {
  const [q, setQ] = useState("");
  const [category, setCategory] = useState("");
  const [page, error] = useLoad(() => api.get(`/templates${query({ q, category, limit: 200 })}`), [q, category]);
  const [using, setUsing] = useState(null);
  const [preview, setPreview] = useState(null);
  return (
    <Layout active="templates" title="Templates">
      <form class="mlops-filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search"><input type="search" value={q} data-shortcut-focus="/" onInput={(e) => setQ(e.target.value)} /></Field>
        <Field label="Category">
          <select value={category} onChange={(e) => setCategory(e.target.value)}>
            <option value="">all</option>{CATEGORIES.map((c) => <option key={c} value={c}>{label(c)}</option>)}
          </select>
        </Field>
      </form>
      <ErrorBanner error={error} />
      <div class="mlops-cards" id="mlops-templates">
        {page && page.items.map((t) => (
          <article key={t.id} class="mlops-card" data-template-id={t.id} data-template-name={t.name} aria-label={t.name}>
            <header>
              <h2>{t.name}</h2>
              <span class="mlops-pill">{label(t.category)}</span>
              {t.builtin && <span class="mlops-pill">built-in</span>}
              {!t.public && <span class="mlops-pill">private</span>}
            </header>
            <p class="mlops-card-desc">{t.description}</p>
            <button type="button" class="mlops-card-graph" aria-label={`Preview the task graph of ${t.name}`} onClick={() => setPreview(t)}>
              <TaskGraph tasks={t.spec.tasks || []} label={`Task graph of ${t.name}`} />
            </button>
            <footer>
              <span class="mlops-muted">{(t.spec.tasks || []).length} tasks · {Object.keys(t.spec.params || {}).length} parameters · used {t.usage_count}×</span>
              {perms.create_workflows && <button type="button" class="primary" onClick={() => setUsing(t)}>Use template</button>}
            </footer>
          </article>
        ))}
        {page && page.items.length === 0 && <p class="mlops-empty">No templates match.</p>}
      </div>
      {preview && (
        <Dialog title={preview.name} wide onClose={() => setPreview(null)}
                footer={perms.create_workflows && <button type="button" class="primary" onClick={() => { setUsing(preview); setPreview(null); }}>Use template</button>}>
          <p>{preview.description}</p>
          <div class="mlops-graph-box"><TaskGraph tasks={preview.spec.tasks || []} /></div>
          <h3>Tasks</h3>
          <ul>{(preview.spec.tasks || []).map((t) => <li key={t.name}><code>{t.name}</code>{t.depends_on && t.depends_on.length ? ` ← ${t.depends_on.join(", ")}` : ""}</li>)}</ul>
        </Dialog>
      )}
      {using && <InstantiateDialog template={using} onClose={() => setUsing(null)} />}
    </Layout>
  );
}

function InstantiateDialog({ template, onClose }) {
  const params = template.spec.params || {};
  const [name, setName] = useState(template.name.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, ""));
  const form = useParamsForm(params);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (!form.check()) return;
    setBusy(true); setError(null);
    try {
      const wf = await api.post(`/templates/${enc(template.id)}/instantiate`, { workflow_name: name, params: form.values });
      go(`/workflows/${enc(wf.id)}`);
    } catch (err) {
      form.showServerErrors(err, (byField, fe) => {
        if (fe.path === "workflow_name" || fe.path === "name") byField.__name = fe.message;
      });
      setError(err); setBusy(false);
    }
  };
  return (
    <Dialog title={`New workflow from ${template.name}`} onClose={onClose} wide>
      <form onSubmit={submit} class="mlops-instantiate-form" noValidate>
        <Field label="Workflow name" error={form.errors.__name} hint="becomes the Airflow DAG id: letters, digits, _ . -">
          <input type="text" value={name} required onInput={(e) => { setName(e.target.value); form.setErrors({ ...form.errors, __name: undefined }); }} />
        </Field>
        <fieldset>
          <legend>Parameter defaults</legend>
          <ParamsForm params={params} values={form.values} texts={form.texts} errors={form.errors} onChange={form.onChange} idPrefix="tpl" />
        </fieldset>
        {error && <ErrorBanner error={error} />}
        <div class="mlops-dialog-foot">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={busy}>{busy ? "Creating…" : "Create workflow"}</button>
        </div>
      </form>
    </Dialog>
  );
}
