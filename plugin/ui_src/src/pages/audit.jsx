// The audit log: who changed what and when, filterable; for roles with read on "MLOps Audit Log".
import { h } from "preact";
import { useState } from "preact/hooks";
import { api, query } from "../api.js";
import { Layout, Field, Pager, ErrorBanner, fmtTime, fmtValue, useLoad } from "../ui.jsx";

const PAGE = 50;

export function AuditPage() {
  const [f, setF] = useState({ actor: "", object_type: "", action: "" });
  const [offset, setOffset] = useState(0);
  const [page, error] = useLoad(() => api.get(`/audit${query({ ...f, limit: PAGE, offset })}`), [JSON.stringify(f), offset]);
  const set = (k, v) => { setF({ ...f, [k]: v }); setOffset(0); };
  return (
    <Layout active="audit" title="Audit log">
      <form class="mlops-filters" onSubmit={(e) => e.preventDefault()}>
        <Field label="Actor"><input type="text" value={f.actor} onChange={(e) => set("actor", e.target.value.trim())} /></Field>
        <Field label="Object type">
          <select value={f.object_type} onChange={(e) => set("object_type", e.target.value)}>
            <option value="">any</option>{["workflow", "template", "run"].map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </Field>
        <Field label="Action"><input type="text" value={f.action} onChange={(e) => set("action", e.target.value.trim())} /></Field>
      </form>
      <ErrorBanner error={error} />
      <table class="mlops-table" id="mlops-audit">
        <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Object</th><th>Details</th></tr></thead>
        <tbody>
          {page && page.items.map((e) => (
            <tr key={e.id} data-audit-id={e.id}>
              <td>{fmtTime(e.at)}</td><td>{e.actor}</td><td><code>{e.action}</code></td>
              <td>{e.object_type} <b>{e.object_name}</b></td>
              <td class="mlops-params-cell">{Object.entries(e.details || {}).map(([k, v]) => <span key={k} class="mlops-kv"><b>{k}</b>={fmtValue(v)}</span>)}</td>
            </tr>
          ))}
          {page && page.items.length === 0 && <tr><td colSpan="5" class="mlops-empty">No events match.</td></tr>}
        </tbody>
      </table>
      {page && <Pager total={page.total} limit={PAGE} offset={offset} onChange={setOffset} />}
    </Layout>
  );
}
