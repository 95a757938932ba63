// The REST API client of the pages: JSON in and out, the CSRF token on every write, RFC 9457 problems
// turned into ApiError with the per-field errors the forms show inline.
import { boot } from "./boot.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.errors = (problem && problem.errors) || [];
  }
}

let csrfToken = boot.csrf;

async function send(method, path, body, retried, extra) {
  const headers = { Accept: "application/json", ...(extra || {}) };
  const init = { method, credentials: "same-origin", headers };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(boot.api + path, init);
  if (resp.status === 204) return null;
  const type = resp.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await resp.json() : await resp.text();
  if (resp.ok) return data;
  // A page left open past the CSRF token's lifetime: fetch a fresh token once and retry.
  if (!retried && resp.status === 403 && method !== "GET" && /csrf/i.test(JSON.stringify(data))) {
    const fresh = await send("GET", "/csrf-token");
    csrfToken = fresh.csrf_token || csrfToken;
    return send(method, path, body, true, extra);
  }
  throw new ApiError(resp.status, typeof data === "object" ? data : { detail: String(data).slice(0, 300) });
}

export const api = {
  get: (path) => send("GET", path),
  post: (path, body) => send("POST", path, body === undefined ? {} : body),
  /** A write based on what the caller saw: 409 if the object changed since (optimistic concurrency). */
  postIfMatch: (path, revision) => send("POST", path, {}, false, { "If-Match": `"${revision}"` }),
  put: (path, body) => send("PUT", path, body),
  patch: (path, body) => send("PATCH", path, body),
  /** With a revision: deleted only if it is still the one the caller saw (If-Match). */
  del: (path, revision) => send("DELETE", path, undefined, false, revision === undefined ? undefined : { "If-Match": `"${revision}"` }),
};

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;
