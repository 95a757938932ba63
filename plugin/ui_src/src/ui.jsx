// Shared building blocks of the pages: layout and tabs, dialogs (in-page: Airflow's iframe sandbox
// ignores alert/confirm), field with inline error, state badges, paging, formatting.
import { h, Fragment, cloneElement } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { boot, perms, pageUrl } from "./boot.js";

export { h, Fragment };

const TABS = [
  { key: "workflows", label: "Workflows", href: "/", allowed: () => perms.read_workflows },
  { key: "templates", label: "Templates", href: "/templates", allowed: () => perms.read_templates },
  { key: "runs", label: "Runs", href: "/runs", allowed: () => perms.read_runs },
  { key: "audit", label: "Audit log", href: "/audit", allowed: () => perms.read_audit },
];

/** Navigate inside the iframe; pages with unsaved changes get a say first (see useUnsavedGuard). */
export function go(path) {
  const url = path.startsWith("/") && !path.startsWith(boot.pages) ? pageUrl(path) : path;
  if (leaveGuard.current && leaveGuard.current(url)) return;
  window.location.assign(url);
}

export const leaveGuard = { current: null };

export function Link({ href, children, ...rest }) {
  const url = pageUrl(href);
  return (
    <a href={url} onClick={(e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
      if (leaveGuard.current && leaveGuard.current(url)) e.preventDefault();
    }} {...rest}>{children}</a>
  );
}

export function Layout({ active, title, actions, children, crumbs }) {
  return (
    <div class="mlops-page">
      <header class="mlops-header">
        <nav class="mlops-tabs" aria-label="MLOps sections">
          <span class="mlops-brand" aria-hidden="true">MLOps</span>
          {TABS.filter((t) => t.allowed()).map((t) => (
            <Link key={t.key} href={t.href} class={t.key === active ? "active" : ""}
                  aria-current={t.key === active ? "page" : undefined}>{t.label}</Link>
          ))}
        </nav>
        <div class="mlops-user">
          <button type="button" class="mlops-icon-btn" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts"
                  onClick={() => window.dispatchEvent(new Event("mlops-help"))}>?</button>
          <span title="Signed in as">{boot.user}</span>
        </div>
      </header>
      <div class="mlops-titlebar">
        <div>
          {crumbs && <div class="mlops-crumbs">{crumbs}</div>}
          <h1>{title}</h1>
        </div>
        <div class="mlops-actions">{actions}</div>
      </div>
      <main>{children}</main>
    </div>
  );
}

export function Dialog({ title, onClose, children, footer, wide }) {
  const ref = useRef(null);
  useEffect(() => {
    const previous = document.activeElement;
    const first = ref.current && ref.current.querySelector("input, select, textarea, button:not(.mlops-close)");
    if (first) first.focus();
    const onKey = (e) => { if (e.key === "Escape") { e.stopPropagation(); onClose(); } };
    document.addEventListener("keydown", onKey, true);
    return () => { document.removeEventListener("keydown", onKey, true); if (previous && previous.focus) previous.focus(); };
  }, []);
  return (
    <div class="mlops-overlay" onMouseDown={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <div class={`mlops-dialog${wide ? " wide" : ""}`} role="dialog" aria-modal="true" aria-label={title} ref={ref}>
        <div class="mlops-dialog-head">
          <h2>{title}</h2>
          <button type="button" class="mlops-icon-btn mlops-close" aria-label="Close" onClick={onClose}>×</button>
        </div>
        <div class="mlops-dialog-body">{children}</div>
        {footer && <div class="mlops-dialog-foot">{footer}</div>}
      </div>
    </div>
  );
}

/** In-page confirmation; resolves through onConfirm/onCancel. */
export function Confirm({ title, message, confirmLabel, danger, onConfirm, onCancel, busy }) {
  return (
    <Dialog title={title} onClose={onCancel} footer={<Fragment>
      <button type="button" onClick={onCancel}>Cancel</button>
      <button type="button" class={danger ? "danger" : "primary"} disabled={busy} onClick={onConfirm}>{confirmLabel}</button>
    </Fragment>}>
      <p>{message}</p>
    </Dialog>
  );
}

/** The errors at a path and below it (``tasks[2]`` covers ``tasks[2].code``; ``x.to`` covers ``x.to[0]``). */
export function errorsAt(errors, prefix) {
  return (errors || []).filter((e) => e.path === prefix || e.path.startsWith(`${prefix}.`) || e.path.startsWith(`${prefix}[`));
}

/** The messages of errorsAt joined, or null: what a Field shows. */
export function firstMessage(errors, prefix) {
  const found = errorsAt(errors, prefix);
  return found.length ? found.map((e) => e.message).join("; ") : null;
}

let fieldIds = 0;
export function Field({ label, error, hint, children, id }) {
  const [auto] = useState(() => `mlops-f${++fieldIds}`);
  const fid = id || auto;
  const child = Array.isArray(children) ? children[0] : children;
  const control = child && child.props ? cloneElement(child, { id: fid,
    "aria-invalid": error ? "true" : undefined, "aria-describedby": error ? `${fid}-err` : undefined }) : child;
  return (
    <div class={`mlops-field${error ? " has-error" : ""}`}>
      <label for={fid}>{label}</label>
      {control}
      {hint && !error && <div class="mlops-hint">{hint}</div>}
      {error && <div class="mlops-error" id={`${fid}-err`} role="alert">{error}</div>}
    </div>
  );
}

export function StateBadge({ state }) {
  const s = state || "none";
  return <span class="mlops-state" data-state={s}>{s === "none" ? "never run" : s}</span>;
}

export function ErrorBanner({ error, onDismiss }) {
  if (!error) return null;
  const text = typeof error === "string" ? error : error.message;
  return (
    <div class="mlops-banner error" role="alert">
      <span>{text}</span>
      {error.errors && error.errors.length > 0 && (
        <ul>{error.errors.map((e, i) => <li key={i}><code>{e.path}</code>: {e.message}</li>)}</ul>
      )}
      {onDismiss && <button type="button" class="mlops-icon-btn" aria-label="Dismiss" onClick={onDismiss}>×</button>}
    </div>
  );
}

export function Pager({ total, limit, offset, onChange }) {
  if (total <= limit) return <div class="mlops-pager">{total} item{total === 1 ? "" : "s"}</div>;
  const page = Math.floor(offset / limit) + 1, pages = Math.ceil(total / limit);
  return (
    <div class="mlops-pager">
      <button type="button" disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - limit))}>Previous</button>
      <span>Page {page} of {pages} · {total} items</span>
      <button type="button" disabled={offset + limit >= total} onClick={() => onChange(offset + limit)}>Next</button>
    </div>
  );
}

export function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtValue(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Run ``load`` now and whenever ``deps`` change; returns [data, error, reload]. */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then((data) => live && setState({ data, error: null }), (error) => live && setState({ data: null, error }));
    return () => { live = false; };
  }, [...deps, tick]);
  return [state.data, state.error, () => setTick((t) => t + 1)];
}

export function Toast({ message }) {
  if (!message) return null;
  return <div class="mlops-toast" role="status">{message}</div>;
}

export function useToast() {
  const [message, setMessage] = useState(null);
  const timer = useRef(null);
  const show = (text) => {
    setMessage(text);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setMessage(null), 4000);
  };
  return [message, show];
}
