// Side-by-side line diff (jsdiff): removed lines on the left, added on the right, unchanged on both.
import { h } from "preact";
import { diffLines } from "diff";

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
