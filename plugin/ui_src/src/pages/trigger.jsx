// Trigger dialog: a typed form from the workflow's parameters (or a saved preset), a description that
// becomes the run's note in Airflow, and an explicit choice to unpause a paused workflow.
import { h, Fragment } from "preact";
import { useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { Dialog, Field, ErrorBanner, useLoad } from "../ui.jsx";
import { ParamsForm, useParamsForm } from "../params.jsx";

export function TriggerDialog({ workflow, onClose, onTriggered, initial, rerunOf }) {
  const params = workflow.params || {};
  const form = useParamsForm(params, initial);
  const [description, setDescription] = useState("");
  const [unpause, setUnpause] = useState(!workflow.active);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [presets] = useLoad(() => api.get(`/workflows/${enc(workflow.id)}/presets`), [workflow.id]);

  const applyPreset = (name) => {
    const preset = presets && presets.items.find((p) => p.name === name);
    if (preset) form.reset(preset.params);
  };

  const submit = async (e) => {
    e.preventDefault();
    if (!form.check()) return;
    setBusy(true); setError(null);
    try {
      const run = rerunOf
        ? await api.post(`/jobs/${enc(rerunOf)}/rerun`, { params: form.values, description })
        : await api.post(`/jobs/trigger/${enc(workflow.id)}`, { params: form.values, description, unpause });
      onTriggered(run);
    } catch (err) {
      form.showServerErrors(err); setError(err); setBusy(false);
    }
  };

  return (
    <Dialog title={`${rerunOf ? "Re-run" : "Trigger"} ${workflow.name}`} onClose={onClose} wide>
      <form onSubmit={submit} class="mlops-trigger-form" noValidate>
        {presets && presets.items.length > 0 && (
          <Field label="Preset">
            <select onChange={(e) => applyPreset(e.target.value)}>
              <option value="">(defaults)</option>
              {presets.items.map((p) => <option key={p.name} value={p.name}>{p.name}</option>)}
            </select>
          </Field>
        )}
        <fieldset>
          <legend>Parameters</legend>
          <ParamsForm params={params} values={form.values} texts={form.texts} errors={form.errors} onChange={form.onChange} idPrefix="trigger" />
        </fieldset>
        <Field label="Description" hint="Shown with the run here and as its note in Airflow.">
          <textarea rows="2" maxLength={1000} value={description} onInput={(e) => setDescription(e.target.value)} />
        </Field>
        {!workflow.active && !rerunOf && (
          <label class="mlops-check">
            <input type="checkbox" checked={unpause} onChange={(e) => setUnpause(e.target.checked)} />
            {" "}Unpause the workflow (it is paused; a paused workflow's runs wait)
          </label>
        )}
        {error && <ErrorBanner error={error} />}
        <div class="mlops-dialog-foot">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={busy}>{busy ? "Triggering…" : "Trigger run"}</button>
        </div>
      </form>
    </Dialog>
  );
}
