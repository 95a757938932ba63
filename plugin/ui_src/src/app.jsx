// Entry point: render the page the server asked for, plus the keyboard shortcuts and their "?" overlay.
import { h, render, Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { boot } from "./boot.js";
import { go, Dialog } from "./ui.jsx";
import { WorkflowsPage } from "./pages/workflows.jsx";
import { EditorPage } from "./pages/editor.jsx";
import { VersionsPage } from "./pages/versions.jsx";
import { TemplatesPage } from "./pages/templates.jsx";
import { RunsPage } from "./pages/runs.jsx";
import { AuditPage } from "./pages/audit.jsx";
import { ComparePage } from "./pages/compare.jsx";

const PAGES = { workflows: WorkflowsPage, editor: EditorPage, versions: VersionsPage, templates: TemplatesPage,
  runs: RunsPage, audit: AuditPage, compare: ComparePage };

export const SHORTCUTS = [
  ["?", "Show this help"],
  ["g w", "Go to workflows"],
  ["g t", "Go to templates"],
  ["g r", "Go to runs"],
  ["g a", "Go to the audit log"],
  ["/", "Focus the search field"],
  ["n", "New workflow (workflows page)"],
  ["t", "Trigger (runs page of a workflow)"],
  ["Ctrl/⌘ + S", "Save (editor: the draft of an existing workflow)"],
  ["Esc", "Close a dialog"],
];
const GOTO = { w: "/", t: "/templates", r: "/runs", a: "/audit" };

function typing(target) {
  return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName) || target.closest(".cm-editor"));
}

function App() {
  const Page = PAGES[boot.page] || WorkflowsPage;
  const [help, setHelp] = useState(false);
  // A ref, not a variable of the effect: the effect re-subscribes when the help opens or closes, and a "g"
  // pressed just before that (e.g. right after closing the help) must still count for the next key.
  const pendingG = useRef(0);
  useEffect(() => {
    const onKey = (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || document.querySelector(".mlops-overlay")) {
        if (e.key === "Escape" && help) setHelp(false);
        return;
      }
      if (e.key === "?") { e.preventDefault(); setHelp(true); return; }
      if (pendingG.current && Date.now() - pendingG.current < 1500 && GOTO[e.key]) {
        e.preventDefault(); pendingG.current = 0; go(GOTO[e.key]); return;
      }
      pendingG.current = e.key === "g" ? Date.now() : 0;
      if (e.key === "/") {
        const field = document.querySelector("[data-shortcut-focus='/']");
        if (field) { e.preventDefault(); field.focus(); }
        return;
      }
      const target = document.querySelector(`[data-shortcut='${e.key}']`);
      if (target) { e.preventDefault(); target.click(); }
    };
    const onHelp = () => setHelp(true);
    document.addEventListener("keydown", onKey);
    window.addEventListener("mlops-help", onHelp);
    return () => { document.removeEventListener("keydown", onKey); window.removeEventListener("mlops-help", onHelp); };
  }, [help]);
  return (
    <Fragment>
      <Page />
      {help && (
        <Dialog title="Keyboard shortcuts" onClose={() => setHelp(false)}>
          <table class="mlops-table compact" id="mlops-shortcuts">
            <tbody>{SHORTCUTS.map(([k, what]) => <tr key={k}><td><kbd>{k}</kbd></td><td>{what}</td></tr>)}</tbody>
          </table>
        </Dialog>
      )}
    </Fragment>
  );
}

const root = document.getElementById("mlops-app");
root.textContent = "";
render(<App />, root);
