// A form generated from a workflow's (or template's) typed parameters: the right control per type,
// with the bounds, choices and description of each; values come back typed.
import { h } from "preact";
import { useState } from "preact/hooks";
import { Field, fmtValue } from "./ui.jsx";

export function initialValues(params, given) {
  const out = {};
  for (const [name, p] of Object.entries(params || {})) {
    const v = given && name in given ? given[name] : p.default;
    out[name] = v === undefined ? null : v;
  }
  return out;
}

function toText(p, v) {
  if (v === null || v === undefined) return "";
  if (p.type === "array" || p.type === "object") return JSON.stringify(v);
  return String(v);
}

/** Parse the text of a field into the parameter's type; returns [value, error]. */
export function parseValue(p, text) {
  if (text === "" || text === null) return [null, p.required ? "required" : null];
  if (p.type === "integer") {
    if (!/^-?\d+$/.test(text.trim())) return [text, "must be a whole number"];
    return [parseInt(text, 10), null];
  }
  if (p.type === "number") {
    const n = Number(text);
    return Number.isFinite(n) ? [n, null] : [text, "must be a number"];
  }
  if (p.type === "array" || p.type === "object") {
    try {
      const v = JSON.parse(text);
      const ok = p.type === "array" ? Array.isArray(v) : v && typeof v === "object" && !Array.isArray(v);
      return ok ? [v, null] : [text, `must be a JSON ${p.type}`];
    } catch (e) {
      return [text, `must be a JSON ${p.type}`];
    }
  }
  return [text, null];
}

function boundsError(p, v) {
  if (typeof v !== "number") return null;
  if (p.minimum !== null && p.minimum !== undefined && v < p.minimum) return `must be ≥ ${p.minimum}`;
  if (p.maximum !== null && p.maximum !== undefined && v > p.maximum) return `must be ≤ ${p.maximum}`;
  return null;
}

/** Client-side check before sending; the server checks again (Airflow validates the Params too). */
export function paramErrors(params, values, texts) {
  const errors = {};
  for (const [name, p] of Object.entries(params || {})) {
    if (texts && name in texts) {
      const [, err] = parseValue(p, texts[name]);
      if (err) { errors[name] = err; continue; }
    }
    const v = values[name];
    if ((v === null || v === undefined) && p.required) errors[name] = "required";
    const b = boundsError(p, v);
    if (b) errors[name] = b;
  }
  return errors;
}

export function ParamsForm({ params, values, texts, errors, onChange, disabled, idPrefix }) {
  const entries = Object.entries(params || {});
  if (entries.length === 0) return <p class="mlops-muted">This workflow has no parameters.</p>;
  return (
    <div class="mlops-params-form">
      {entries.map(([name, p]) => {
        const v = values[name];
        const id = `${idPrefix || "param"}-${name}`;
        const hint = [p.description, p.minimum !== null && p.minimum !== undefined ? `min ${p.minimum}` : null,
          p.maximum !== null && p.maximum !== undefined ? `max ${p.maximum}` : null, p.type].filter(Boolean).join(" · ");
        let control;
        if (p.enum && p.enum.length) {
          control = (
            <select disabled={disabled} value={fmtValue(v)} name={name}
                    onChange={(e) => onChange(name, p.enum.find((o) => fmtValue(o) === e.target.value), undefined)}>
              {p.enum.map((o) => <option key={fmtValue(o)} value={fmtValue(o)}>{fmtValue(o)}</option>)}
            </select>
          );
        } else if (p.type === "boolean") {
          control = <input type="checkbox" name={name} disabled={disabled} checked={!!v}
                           onChange={(e) => onChange(name, e.target.checked, undefined)} />;
        } else {
          const text = texts && name in texts ? texts[name] : toText(p, v);
          const numeric = p.type === "integer" || p.type === "number";
          control = (
            <input type={numeric ? "number" : "text"} name={name} disabled={disabled} value={text}
                   step={p.type === "integer" ? 1 : "any"}
                   min={numeric && p.minimum !== null ? p.minimum : undefined}
                   max={numeric && p.maximum !== null ? p.maximum : undefined}
                   onInput={(e) => { const [val] = parseValue(p, e.target.value); onChange(name, val, e.target.value); }} />
          );
        }
        return <Field key={name} id={id} label={name + (p.required ? " *" : "")} hint={hint} error={errors && errors[name]}>{control}</Field>;
      })}
    </div>
  );
}

/** State of a typed parameters form: values, raw texts of fields being typed, per-field errors. */
export function useParamsForm(params, initial) {
  const [values, setValues] = useState(() => initialValues(params, initial));
  const [texts, setTexts] = useState({});
  const [errors, setErrors] = useState({});
  const onChange = (name, value, text) => {
    setValues({ ...values, [name]: value });
    setTexts(text === undefined ? Object.fromEntries(Object.entries(texts).filter(([k]) => k !== name)) : { ...texts, [name]: text });
    setErrors({ ...errors, [name]: undefined });
  };
  return {
    values, texts, errors, onChange, setErrors,
    reset: (given) => { setValues(initialValues(params, given)); setTexts({}); setErrors({}); },
    /** Check before sending; true when the form may be sent. */
    check: () => { const found = paramErrors(params, values, texts); setErrors(found); return Object.keys(found).length === 0; },
    /** Show the server's ``params.<name>`` errors at their fields; other paths go to ``other(path, message)``. */
    showServerErrors: (err, other) => {
      const byField = {};
      for (const fe of err.errors || []) {
        const m = /^params\.([^.[]+)/.exec(fe.path);
        if (m) byField[m[1]] = fe.message;
        else if (other) other(byField, fe);
      }
      setErrors(byField);
    },
  };
}
