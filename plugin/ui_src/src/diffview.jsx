// Side-by-side line diff (jsdiff): removed lines on the left, added on the right, unchanged on both; and the
// structured diff of two workflow specs as the API returns it (versions, and a draft against the published version).
import { h, Fragment } from "preact";
import { diffLines } from "diff";
import { fmtValue } from "./ui.jsx";

export function sideBySide(oldText, newText) {
  const rows = [];
  let left = 1, right = 1, pendingDel = [];
  const flush = () => { for (const l of pendingDel) rows.push({ l: { n: l.n, text: l.text, kind: "del" }, r: null }); pendingDel = []; };
  for (const part of diffLines(oldText || "", newText || "")) {
    const lines = part.value.replace(/\n$/, "").split("\n");
    if (part.removed) {
      flush();
      pendingDel = lines.map((text) => ({ n: left++, text }));
    } else if (part.added) {
      lines.forEach((text, i) => {
        const del = pendingDel[i];
        rows.push({ l: del ? { n: del.n, text: del.text, kind: "del" } : null, r: { n: right++, text, kind: "add" } });
      });
      pendingDel = pendingDel.slice(lines.length);
      flush();
    } else {
      flush();
      for (const text of lines) rows.push({ l: { n: left++, text, kind: "same" }, r: { n: right++, text, kind: "same" } });
    }
  }
  flush();
  return rows;
}

function Cell({ c }) {
  if (!c) return <td class="mlops-diff-n empty" />;
  return [<td class="mlops-diff-n" key="n">{c.n}</td>,
    <td class={`mlops-diff-t ${c.kind}`} key="t"><span class="sr-only">{c.kind === "del" ? "removed: " : c.kind === "add" ? "added: " : ""}</span>{c.text}</td>];
}

export function SideBySideDiff({ oldText, newText, oldLabel, newLabel }) {
  const rows = sideBySide(oldText, newText);
  return (
    <table class="mlops-diff">
      {/* Fixed table layout takes its widths from the first row, whose headers span two columns: name them here. */}
      <colgroup><col style={{ width: "42px" }} /><col /><col style={{ width: "42px" }} /><col /></colgroup>
      <thead><tr><th colSpan="2">{oldLabel}</th><th colSpan="2">{newLabel}</th></tr></thead>
      <tbody>
        {rows.map((row, i) => (
          <tr key={i}>
            {row.l ? <Cell c={row.l} /> : [<td key="a" class="mlops-diff-n empty" />, <td key="b" class="mlops-diff-t empty" />]}
            {row.r ? <Cell c={row.r} /> : [<td key="a" class="mlops-diff-n empty" />, <td key="b" class="mlops-diff-t empty" />]}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Pretty JSON of a spec without its tasks' code, for comparing settings and structure. */
export function specOutline(spec) {
  const copy = { ...spec, tasks: (spec.tasks || []).map(({ code, ...rest }) => rest) };
  return JSON.stringify(copy, null, 2);
}

function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

function prettyJson(v) { return v === null || v === undefined ? "" : JSON.stringify(v, null, 2); }

/** A structured diff (GET .../diff, .../draft/diff) with the two specs it compares (for the code and the outline). */
export function StructuredDiff({ diff, oldSpec, newSpec, oldLabel, newLabel }) {
  const a = oldSpec, b = newSpec;
  const code = (spec, name) => { const t = (spec.tasks || []).find((x) => x.name === name); return t ? t.code : ""; };
  const taskOf = (spec, name) => (spec.tasks || []).find((x) => x.name === name);
  const renamedTo = Object.fromEntries(diff.tasks.renamed.map((r) => [r.to, r.from]));
  const sides = { oldLabel, newLabel };
  return (
    <Fragment>
      {diff.identical && <p>No differences.</p>}
      {diff.settings.length > 0 && (
        <Fragment>
          <h3>Settings</h3>
          <table class="mlops-table compact"><thead><tr><th>Field</th><th>{oldLabel}</th><th>{newLabel}</th></tr></thead>
            <tbody>{diff.settings.map((c) => (isObject(c.old) || isObject(c.new)
              // An object setting (notifications): its pretty JSON, side by side, so the changed lines stand out.
              ? <tr key={c.field} data-setting={c.field}><td>{c.field}</td><td colSpan="2">
                  <SideBySideDiff oldText={prettyJson(c.old)} newText={prettyJson(c.new)} {...sides} /></td></tr>
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
                <SideBySideDiff oldText={prettyJson(c.old)} newText={prettyJson(c.new)} {...sides} /></div>
            : <p key={c.field}>{c.field}: {fmtValue(c.old)} → {fmtValue(c.new)}</p>))}
          {t.code_diff && <SideBySideDiff oldText={code(a, renamedTo[t.name] || t.name)} newText={code(b, t.name)} {...sides} />}
        </div>
      ))}
      {diff.tasks.added.map((n) => (
        <div key={`new${n}`} class="mlops-task-diff" data-task-diff={n}><h3>Task {n} (new{taskOf(b, n) && taskOf(b, n).type === "docker" ? ", docker container" : ""})</h3>
          <SideBySideDiff oldText="" newText={taskOf(b, n) && taskOf(b, n).type === "docker" ? prettyJson(taskOf(b, n).docker) : code(b, n)} {...sides} /></div>
      ))}
      <details><summary>Whole structure (without code)</summary>
        <SideBySideDiff oldText={specOutline(a)} newText={specOutline(b)} {...sides} /></details>
    </Fragment>
  );
}
