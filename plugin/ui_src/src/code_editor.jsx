// A CodeMirror 6 Python editor (bundled: no CDN). Validation errors of the form
// "line L, column C: message" are marked at that line, with a gutter marker.
import { h } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { EditorView, basicSetup } from "codemirror";
import { EditorState, Compartment } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { setDiagnostics, lintGutter } from "@codemirror/lint";
import { oneDark } from "@codemirror/theme-one-dark";

const currentTheme = () => (document.documentElement.dataset.theme === "dark" ? oneDark : []);

/** ``"line 3, column 5: invalid syntax"`` -> {line, column, message}; null when it names no line. */
export function parseLineError(message) {
  const m = /^line (\d+), column (\d+|None): (.*)$/.exec(message || "");
  return m ? { line: parseInt(m[1], 10), column: m[2] === "None" ? 1 : parseInt(m[2], 10), message: m[3] } : null;
}

function diagnosticsFor(doc, errors) {
  const out = [];
  for (const e of errors || []) {
    const parsed = parseLineError(e.message);
    if (parsed && parsed.line >= 1 && parsed.line <= doc.lines) {
      const line = doc.line(parsed.line);
      let from = Math.min(line.from + Math.max(parsed.column - 1, 0), line.to);
      if (from >= line.to) from = line.from;  // an error at the end of the line marks the whole line
      out.push({ from, to: line.to, severity: "error", message: parsed.message });
    } else {
      out.push({ from: 0, to: Math.min(doc.length, 1), severity: "error", message: e.message });
    }
  }
  return out;
}

/** Uncontrolled: ``value`` is read when the editor mounts; the parent remounts it (a new ``key``) to load
 * other text. Feeding every keystroke back as a prop races the user's typing. */
export function CodeEditor({ value, onChange, errors, readOnly, label }) {
  const host = useRef(null), view = useRef(null), callbacks = useRef({});
  callbacks.current = { onChange };
  const theme = useRef(new Compartment()), editable = useRef(new Compartment());

  useEffect(() => {
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value || "",
        extensions: [
          basicSetup, python(), lintGutter(), keymap.of([indentWithTab]),
          EditorView.contentAttributes.of({ "aria-label": label || "Task code" }),
          theme.current.of(currentTheme()),
          editable.current.of([EditorState.readOnly.of(!!readOnly), EditorView.editable.of(!readOnly)]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged && callbacks.current.onChange) callbacks.current.onChange(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    const onTheme = () => v.dispatch({ effects: theme.current.reconfigure(currentTheme()) });
    window.addEventListener("mlops-theme", onTheme);
    return () => { window.removeEventListener("mlops-theme", onTheme); v.destroy(); };
  }, []);

  useEffect(() => {
    const v = view.current;
    if (v) v.dispatch(setDiagnostics(v.state, diagnosticsFor(v.state.doc, errors)));
  }, [JSON.stringify(errors || [])]);  // CodeMirror maps existing marks through edits by itself

  useEffect(() => {
    const v = view.current;
    if (v) v.dispatch({ effects: editable.current.reconfigure([EditorState.readOnly.of(!!readOnly), EditorView.editable.of(!readOnly)]) });
  }, [readOnly]);

  return <div class="mlops-code" ref={host} />;
}
