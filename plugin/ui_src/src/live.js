// The live push channel: run and task states as Server-Sent Events from GET {boot.live}.
//
// subscribe() wraps one EventSource and keeps the id of the last event it handed on, so nothing is applied
// twice or out of order. On an error it closes the EventSource (the browser's own retry would not back
// off) and reconnects itself with exponential backoff and jitter, resuming with ?last_event_id=<last>: the
// server replays what was missed, or says "reset" when that is older than what it keeps. A page hidden for
// a minute closes its stream; it resumes when shown again.
//
// useLiveData() is what the pages use: data loaded by REST, kept current by applying each event in place,
// reloaded on "ready"/"reset", and polled slowly only while the stream is down.
import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api.js";
import { boot } from "./boot.js";

export const FALLBACK_POLL_MS = 15_000; // REST refresh while the stream is down; none while it is up
export const HIDDEN_CLOSE_MS = 60_000; // a page hidden this long closes its stream
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
const FIRST_LOAD_WAIT_MS = 3000; // load by REST anyway if the stream has not said "ready" by then
const COALESCE_MS = 400; // event-driven refetches: at most one per this long

/** The wait before reconnect attempt ``attempt`` (0, 1, 2...): 1 s, 2 s, 4 s ... at most 30 s, ±25 % jitter. */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(attempt, 16));
  return Math.min(BACKOFF_MAX_MS, Math.round(base * (0.75 + random() * 0.5)));
}

function parse(message) {
  try {
    return JSON.parse(message.data);
  } catch (e) {
    return null;
  }
}

/**
 * Subscribe to the states of some workflows (``workflowIds`` empty or missing: all of them).
 * ``onEvent({type: "ready" | "reset" | "state", ...})``: "ready" (a fresh connection: load state by REST now),
 * "reset" (missed events are gone: reload by REST), "state" (the event's fields). ``onStatus(status)``:
 * "connecting", "live", "reconnecting" or "paused" (page hidden). Returns a function that ends it all.
 */
export function subscribe(workflowIds, onEvent, onStatus) {
  const ids = [...new Set(workflowIds || [])];
  let source = null, retryTimer = null, hiddenTimer = null, attempt = 0, lastId = null, status = null, ended = false;

  const setStatus = (next) => {
    if (next !== status) { status = next; if (onStatus) onStatus(next); }
  };
  const url = () => {
    const q = new URLSearchParams();
    for (const id of ids) q.append("workflow_id", id);
    if (lastId !== null) q.set("last_event_id", String(lastId));
    const s = q.toString();
    return s ? `${boot.live}?${s}` : boot.live;
  };
  const drop = () => {
    if (source) { source.close(); source = null; }
  };
  const retryLater = () => {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, backoffDelay(attempt++));
  };
  function connect() {
    clearTimeout(retryTimer); retryTimer = null;
    if (ended || source) return;
    if (!boot.live || typeof EventSource === "undefined") { setStatus("reconnecting"); return; } // polling only
    const es = new EventSource(url());
    source = es;
    es.onopen = () => { if (source === es) { attempt = 0; setStatus("live"); } };
    es.onerror = () => {
      if (source !== es) return;
      drop(); // the browser would retry at the server's fixed pace; we back off instead
      setStatus("reconnecting");
      retryLater();
    };
    es.addEventListener("ready", (m) => {
      const data = parse(m);
      if (source !== es || !data) return;
      if (lastId === null || data.id > lastId) lastId = data.id;
      onEvent({ type: "ready", id: data.id });
    });
    es.addEventListener("reset", (m) => {
      const data = parse(m);
      if (source !== es || !data) return;
      if (lastId === null || data.id > lastId) lastId = data.id; // resume from here: the reload covers the rest
      onEvent({ type: "reset", id: data.id });
    });
    es.addEventListener("state", (m) => {
      const data = parse(m);
      if (source !== es || !data || typeof data.id !== "number") return;
      if (lastId !== null && data.id <= lastId) return; // already applied
      lastId = data.id;
      onEvent({ type: "state", ...data });
    });
  }
  const resumeNow = () => {
    if (ended || source) return;
    attempt = 0;
    setStatus(status === "paused" || status === null ? "connecting" : "reconnecting");
    connect();
  };
  const onVisibility = () => {
    clearTimeout(hiddenTimer);
    if (document.hidden) {
      hiddenTimer = setTimeout(() => {
        drop(); clearTimeout(retryTimer); retryTimer = null;
        setStatus("paused");
      }, HIDDEN_CLOSE_MS);
    } else if (status === "paused") {
      resumeNow();
    }
  };
  // The browser knows first when the network goes: say so at once, and come back as soon as it returns.
  const onOffline = () => {
    if (ended || status === "paused") return;
    drop();
    setStatus("reconnecting");
    retryLater();
  };
  const onOnline = () => {
    if (ended || status === "paused" || source) return;
    resumeNow();
  };

  document.addEventListener("visibilitychange", onVisibility);
  window.addEventListener("offline", onOffline);
  window.addEventListener("online", onOnline);
  setStatus("connecting");
  connect();
  return () => {
    ended = true;
    drop();
    clearTimeout(retryTimer); clearTimeout(hiddenTimer);
    document.removeEventListener("visibilitychange", onVisibility);
    window.removeEventListener("offline", onOffline);
    window.removeEventListener("online", onOnline);
  };
}

/**
 * Data loaded by REST (``load()``) and kept current by the stream: ``apply(data, event, ctx)`` returns the
 * data with one state event applied (or the same object). Through ``ctx`` it may ask for side effects:
 * ``ctx.reloadSoon()`` (a coalesced reload of everything), ``ctx.refresh(key, fetch, merge)`` (a coalesced
 * refetch of one item: ``merge(data, fetched)``), and ``ctx.once(key)`` (true the first time a key is seen
 * since the filters changed: an item the page does not show, e.g. a run on another page, causes one reload,
 * not one per event; a reload asked for after an event always includes what that event announced).
 * ``ctx.replaying`` is true while events are re-applied over a fresh snapshot; side effects are then skipped.
 *
 * Events that arrive while a snapshot is being fetched are applied to what is shown at once and again over
 * the snapshot when it lands (setting a state twice is harmless), so a snapshot never undoes a newer event.
 * Returns ``{data, error, status, reload}``; the data reloads whenever ``deps`` change.
 */
export function useLiveData({ load, apply, deps, workflowIds }) {
  const [view, setView] = useState({ data: null, error: null });
  const [status, setStatus] = useState("connecting");
  const ref = useRef(null);
  if (ref.current === null) {
    ref.current = { data: null, seq: 0, loading: false, buffers: new Set(), seen: new Set(), timers: new Map(),
      reloadTimer: null, dead: false, mounted: false };
  }
  const r = ref.current;
  r.load = load;
  r.apply = apply;

  const show = (error) => setView({ data: r.data, error });
  const keep = () => setView((v) => ({ data: r.data, error: v.error }));
  const context = (replaying) => ({
    replaying,
    reloadSoon() {
      if (replaying || r.reloadTimer) return;
      r.reloadTimer = setTimeout(() => { r.reloadTimer = null; if (!r.dead) reload(); }, COALESCE_MS);
    },
    refresh(key, fetch, merge) {
      if (replaying || r.timers.has(key)) return;
      r.timers.set(key, setTimeout(() => {
        r.timers.delete(key);
        if (!r.dead) snapshot(fetch, merge, () => true).then((ok) => { if (ok) keep(); }, () => { /* the next load shows it */ });
      }, COALESCE_MS));
    },
    once(key) {
      if (replaying || r.seen.has(key)) return false;
      r.seen.add(key);
      return true;
    },
  });
  // Fetch something, then merge it into the data and re-apply the events that arrived meanwhile.
  const snapshot = (fetch, merge, current) => {
    const buffer = [];
    r.buffers.add(buffer);
    return fetch().then((fetched) => {
      r.buffers.delete(buffer);
      if (r.dead || !current()) return false;
      const replay = context(true);
      let data = merge(r.data, fetched);
      for (const event of buffer) data = r.apply(data, event, replay);
      r.data = data;
      return true;
    }, (error) => {
      r.buffers.delete(buffer);
      throw error;
    });
  };
  function reload() {
    clearTimeout(r.reloadTimer); r.reloadTimer = null;
    const seq = ++r.seq;
    r.loading = true;
    return snapshot(() => r.load(), (_, fetched) => fetched, () => seq === r.seq).then((ok) => {
      if (!ok) return;
      r.loading = false;
      show(null);
    }, (error) => {
      if (seq !== r.seq || r.dead) return;
      r.loading = false;
      // A background refresh that fails on the network keeps what is shown; the indicator says why.
      show(r.data !== null && !(error instanceof ApiError) ? null : error);
    });
  }
  r.ctx = context(false);

  // The REST load: now when the filters change, and first when the stream says where it starts.
  useEffect(() => {
    r.seen.clear();
    if (r.mounted) { reload(); return undefined; }
    r.mounted = true;
    const timer = setTimeout(() => { if (r.data === null && !r.loading) reload(); }, FIRST_LOAD_WAIT_MS);
    return () => clearTimeout(timer);
  }, deps);

  const idsKey = JSON.stringify(workflowIds || []);
  useEffect(() => {
    r.dead = false;
    const end = subscribe(workflowIds, (event) => {
      if (event.type === "ready" || event.type === "reset") { reload(); return; }
      for (const buffer of r.buffers) buffer.push(event);
      if (r.data === null) { // the load in flight covers it; after a failed one, activity is worth a retry
        if (!r.loading) r.ctx.reloadSoon();
        return;
      }
      const next = r.apply(r.data, event, r.ctx);
      if (next !== r.data) { r.data = next; setView((v) => ({ data: next, error: v.error })); }
    }, (next) => {
      setStatus(next);
      if (next === "reconnecting" && r.data === null && !r.loading) reload(); // first load without the stream
    });
    return () => {
      r.dead = true;
      end();
      clearTimeout(r.reloadTimer); r.reloadTimer = null;
      for (const timer of r.timers.values()) clearTimeout(timer);
      r.timers.clear();
    };
  }, [idsKey]);

  // While the stream is down (never while it is up): a slow REST poll, skipped while the page is hidden.
  useEffect(() => {
    if (status !== "reconnecting") return undefined;
    const timer = setInterval(() => { if (!document.hidden && !r.loading) reload(); }, FALLBACK_POLL_MS);
    return () => clearInterval(timer);
  }, [status]);

  return { data: view.data, error: view.error, status, reload };
}

/** The stream's state, in words (read out when it changes) and colour; dark mode through the theme's variables. */
export function LiveStatus({ status }) {
  const live = status === "live";
  const text = live ? "Live" : status === "connecting" ? "Connecting…" : "Reconnecting…";
  const title = live ? "Run and task states appear as they change"
    : `The live connection is down: reconnecting, and refreshing every ${FALLBACK_POLL_MS / 1000} s meanwhile`;
  return h("span", { id: "mlops-live", class: "mlops-live", "data-status": status, role: "status", "aria-live": "polite",
    title, style: live ? undefined : { color: status === "connecting" ? "var(--fg-muted)" : "var(--warn)" } },
  h("span", { "aria-hidden": "true" }, live ? "● " : "○ "), text);
}
