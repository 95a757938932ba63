// Versions: the history, a side-by-side diff of any two versions (settings, parameters, dependencies,
// per-task code) and restore with an in-page confirmation.
import { h, Fragment } from "preact";
import { useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { boot, mayEdit } from "../boot.js";
import { Layout, Link, ErrorBanner, Confirm, fmtTime, useLoad, useToast, Toast, Pager } from "../ui.jsx";
import { StructuredDiff } from "../diffview.jsx";

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

function VersionDiff({ id, from, to }) {
  const [diff, error] = useLoad(() => api.get(`/workflows/${enc(id)}/diff?from=${from}&to=${to}`), [id, from, to]);
  const [specs] = useLoad(() => Promise.all([api.get(`/workflows/${enc(id)}/versions/${from}`), api.get(`/workflows/${enc(id)}/versions/${to}`)]), [id, from, to]);
  if (error) return <ErrorBanner error={error} />;
  if (!diff || !specs) return <p class="mlops-loading">Loading diff…</p>;
  return (
    <section class="mlops-diff-set" aria-label={`Diff v${from} to v${to}`} id="mlops-version-diff">
      <h2>v{from} → v{to}</h2>
      <StructuredDiff diff={diff} oldSpec={specs[0].spec} newSpec={specs[1].spec} oldLabel={`v${from}`} newLabel={`v${to}`} />
    </section>
  );
}
