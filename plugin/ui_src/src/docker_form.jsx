// Settings of a "docker" task: image, command (argv lines or one shell-style string), environment, secret
// environment by reference (an Airflow Connection field or a Variable; the value is never stored), mounts,
// resources, network, auto remove, exit codes that skip, engine URL. The draft keeps environment and secrets
// as ordered rows (so they can be renamed and re-ordered); toDocument turns them back into the spec's maps.
import { h } from "preact";
import { useState } from "preact/hooks";
import { Field, errorsAt, firstMessage } from "./ui.jsx";

export const TASK_TYPES = [["python", "Python"], ["branch", "Branch"], ["docker", "Docker container"]];
export const SECRET_FIELDS = ["password", "login", "host", "schema", "port", "extra", "uri"];
export const MOUNT_TYPES = ["bind", "volume", "tmpfs"];
export const AUTO_REMOVE = [["success", "when it succeeds (default)"], ["never", "never"], ["force", "always"]];
const NETWORKS = ["none", "bridge", "host"];
const MAX_ENV = 100, MAX_MOUNTS = 20;
const SKIP_TEXT_ERROR = "whole numbers from 0 to 255, separated by commas";

/** The short accessible name of a task type ("docker" for the graph badge); null for plain Python. */
export function typeBadge(type) {
  return type === "docker" ? "docker" : type === "branch" ? "branch" : null;
}

export function typeLabel(type) {
  const found = TASK_TYPES.find(([k]) => k === (type || "python"));
  return found ? found[1] : type;
}

export function emptyDocker() {
  return { image: "", command: null, environment: [], secret_environment: [], mounts: [], working_dir: null, cpus: null,
    mem_limit: null, network_mode: null, auto_remove: "success", skip_on_exit_code: null, docker_url: null };
}

/** Server ``docker`` object -> draft (maps as rows). */
export function dockerToDraft(d) {
  if (!d) return null;
  const src = JSON.parse(JSON.stringify(d));
  return {
    ...emptyDocker(), ...src,
    environment: Object.entries(src.environment || {}).map(([name, value]) => ({ name, value })),
    secret_environment: Object.entries(src.secret_environment || {}).map(([name, ref]) => ({
      name, source: ref.variable !== null && ref.variable !== undefined && (ref.connection === null || ref.connection === undefined) ? "variable" : "connection",
      id: ref.connection ?? ref.variable ?? "", field: ref.field || "password" })),
    mounts: (src.mounts || []).map((m) => ({ target: m.target ?? "", source: m.source ?? null, type: m.type || "bind", read_only: !!m.read_only })),
  };
}

/** Draft -> the spec's ``docker`` object, keys in the server's order (so an unchanged draft compares equal). */
export function dockerToDocument(d) {
  const x = d || emptyDocker();
  const environment = {}, secrets = {};
  for (const row of x.environment || []) environment[row.name] = row.value;
  for (const row of x.secret_environment || []) {
    secrets[row.name] = row.source === "variable"
      ? { connection: null, field: "password", variable: row.id }
      : { connection: row.id, field: row.field || "password", variable: null };
  }
  return {
    image: x.image, command: x.command ?? null, environment, secret_environment: secrets,
    mounts: (x.mounts || []).map((m) => ({ target: m.target, source: m.type === "tmpfs" ? (m.source || null) : (m.source ?? null),
      type: m.type, read_only: !!m.read_only })),
    working_dir: x.working_dir ?? null, cpus: x.cpus ?? null, mem_limit: x.mem_limit ?? null, network_mode: x.network_mode ?? null,
    auto_remove: x.auto_remove || "success",
    // Text that is not a list of exit codes stays in the draft (and is reported there); it is never sent.
    skip_on_exit_code: typeof x.skip_on_exit_code === "string" ? null : (x.skip_on_exit_code ?? null),
    docker_url: x.docker_url ?? null,
  };
}

/** What the browser can tell before the server: rows that would overwrite each other, exit codes that are not numbers. */
export function dockerDraftErrors(d, path) {
  const errors = [];
  if (!d) return errors;
  for (const [key, rows] of [["environment", d.environment || []], ["secret_environment", d.secret_environment || []]]) {
    const seen = new Map();
    for (const row of rows) seen.set(row.name, (seen.get(row.name) || 0) + 1);
    for (const [name, count] of seen) {
      if (count > 1) errors.push({ path: `${path}.${key}.${name}`, message: `${count} rows use this name; each variable once` });
    }
  }
  if (typeof d.skip_on_exit_code === "string") errors.push({ path: `${path}.skip_on_exit_code`, message: SKIP_TEXT_ERROR });
  return errors;
}

/** "99, 100" -> 99 / [99, 100] / null; anything else -> the text itself (an error in the draft). */
export function parseExitCodes(text) {
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (!items.length) return null;
  if (!items.every((s) => /^\d{1,3}$/.test(s) && Number(s) <= 255)) return text;
  const codes = items.map(Number);
  return codes.length === 1 ? codes[0] : codes;
}

function exitCodesText(v) {
  return v === null || v === undefined ? "" : typeof v === "string" ? v : Array.isArray(v) ? v.join(", ") : String(v);
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argument as a POSIX shell word (Python's shlex.quote). */
export function shellQuote(arg) {
  if (arg === "") return "''";
  return SAFE_WORD.test(arg) ? arg : `'${arg.replace(/'/g, "'\"'\"'")}'`;
}

/** Split like Python's shlex.split (what the Docker client does with a string command); null if a quote is open. */
export function shellSplit(text) {
  const out = [];
  let cur = null, i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") { if (cur !== null) { out.push(cur); cur = null; } i++; continue; }
    if (cur === null) cur = "";
    if (c === "'") {
      const j = text.indexOf("'", i + 1);
      if (j < 0) return null;
      cur += text.slice(i + 1, j); i = j + 1;
    } else if (c === "\"") {
      i++;
      let closed = false;
      while (i < text.length) {
        const d = text[i];
        if (d === "\"") { closed = true; i++; break; }
        if (d === "\\" && (text[i + 1] === "\\" || text[i + 1] === "\"")) { cur += text[i + 1]; i += 2; continue; }
        cur += d; i++;
      }
      if (!closed) return null;
    } else if (c === "\\") {
      if (i + 1 >= text.length) return null;
      cur += text[i + 1]; i += 2;
    } else { cur += c; i++; }
  }
  if (cur !== null) out.push(cur);
  return out;
}

function argvLines(text) {
  const lines = text.split("\n");
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  return lines.length ? lines : null;
}

/** A control in a row: labelled for assistive technology (the column header is visual only), its error below. */
function Cell({ error, errorId, children }) {
  return (
    <div class={`mlops-row-cell${error ? " has-error" : ""}`}>
      {children}
      {error && <div class="mlops-error" id={errorId} role="alert">{error}</div>}
    </div>
  );
}

function inputProps(label, error, errorId) {
  return { "aria-label": label, "aria-invalid": error ? "true" : undefined, "aria-describedby": error ? errorId : undefined };
}

/** Errors at exactly ``path`` (an environment name may contain dots: no prefix matching). */
function exactly(errors, path) {
  const found = errors.filter((e) => e.path === path);
  return found.length ? found.map((e) => e.message).join("; ") : null;
}

export function DockerForm({ index, docker, errors, readOnly, set }) {
  const p = `tasks[${index}].docker`;
  const d = docker || emptyDocker();
  const msg = (field) => firstMessage(errors, `${p}.${field}`);
  const own = (errors || []).filter((e) => e.path === p || e.path === `tasks[${index}].code`);
  const uid = `mlops-docker-${index}`;
  return (
    <div class="mlops-docker" data-docker-form={index}>
      <p class="mlops-hint" role="note" id={`${uid}-help`}>
        The container gets the run's parameters as <code>MLOPS_PARAM_&lt;NAME&gt;</code> (all of them as JSON in <code>MLOPS_PARAMS</code>)
        and each upstream task's result as <code>MLOPS_UPSTREAM_&lt;TASK&gt;</code>; Jinja such as <code>{"{{ params.epochs }}"}</code> works
        in the command and environment values. Its last line of output is the task's result (parsed when it is JSON).
      </p>
      {own.length > 0 && <div class="mlops-error" role="alert">{own.map((e) => e.message).join("; ")}</div>}
      <Field label="Image" error={msg("image")} hint="e.g. python:3.11-slim or registry.example.com/team/train:1.2">
        <input type="text" value={d.image} disabled={readOnly} autocomplete="off" spellcheck={false} placeholder={readOnly ? undefined : "python:3.11-slim"}
               onInput={(e) => set({ image: e.target.value })} />
      </Field>
      <CommandField key={`cmd-${index}`} path={`${p}.command`} command={d.command} errors={errors} readOnly={readOnly}
                    onChange={(command) => set({ command })} />
      <EnvironmentRows path={`${p}.environment`} rows={d.environment} errors={errors} readOnly={readOnly}
                       onChange={(environment) => set({ environment })} />
      <SecretRows path={`${p}.secret_environment`} rows={d.secret_environment} errors={errors} readOnly={readOnly}
                  onChange={(secret_environment) => set({ secret_environment })} />
      <MountRows path={`${p}.mounts`} rows={d.mounts} errors={errors} readOnly={readOnly} onChange={(mounts) => set({ mounts })} />
      <fieldset class="mlops-docker-run">
        <legend>Resources and runtime</legend>
        <div class="mlops-grid3">
          <Field label="Working directory" error={msg("working_dir")} hint="an absolute path in the container, e.g. /work">
            <input type="text" value={d.working_dir || ""} disabled={readOnly} spellcheck={false} placeholder="image default"
                   onInput={(e) => set({ working_dir: e.target.value === "" ? null : e.target.value })} />
          </Field>
          <Field label="CPUs" error={msg("cpus")} hint="e.g. 0.5; empty: no limit">
            <input type="number" min="0" step="any" value={d.cpus ?? ""} disabled={readOnly} placeholder="no limit"
                   onInput={(e) => set({ cpus: e.target.value === "" || isNaN(Number(e.target.value)) ? null : Number(e.target.value) })} />
          </Field>
          <Field label="Memory limit" error={msg("mem_limit")} hint="e.g. 512m or 2g; empty: no limit">
            <input type="text" value={d.mem_limit || ""} disabled={readOnly} spellcheck={false} placeholder="no limit"
                   onInput={(e) => set({ mem_limit: e.target.value === "" ? null : e.target.value })} />
          </Field>
          <Field label="Network mode" error={msg("network_mode")} hint="none, bridge, host, container:<name> or a network">
            <input type="text" value={d.network_mode || ""} disabled={readOnly} spellcheck={false} list={`${uid}-networks`}
                   placeholder="engine default" onInput={(e) => set({ network_mode: e.target.value === "" ? null : e.target.value })} />
          </Field>
          <Field label="Remove the container" error={msg("auto_remove")}>
            <select value={d.auto_remove || "success"} disabled={readOnly} onChange={(e) => set({ auto_remove: e.target.value })}>
              {AUTO_REMOVE.map(([k, text]) => <option key={k} value={k}>{text}</option>)}
            </select>
          </Field>
          <ExitCodesField key={`skip-${index}`} value={d.skip_on_exit_code} error={msg("skip_on_exit_code")} readOnly={readOnly}
                          onChange={(v) => set({ skip_on_exit_code: v })} />
        </div>
        <datalist id={`${uid}-networks`}>{NETWORKS.map((n) => <option key={n} value={n} />)}</datalist>
        <Field label="Engine URL" error={msg("docker_url")} hint="unix://, tcp://, http(s):// or ssh://; empty: the deployment's engine">
          <input type="text" value={d.docker_url || ""} disabled={readOnly} spellcheck={false} placeholder="default: [mlops] docker_url"
                 onInput={(e) => set({ docker_url: e.target.value === "" ? null : e.target.value })} />
        </Field>
      </fieldset>
    </div>
  );
}

function ExitCodesField({ value, error, readOnly, onChange }) {
  // The text as typed ("99, " stays while typing); the draft gets the parsed codes.
  const [text, setText] = useState(exitCodesText(value));
  return (
    <Field label="Skip on exit codes" error={error} hint="comma separated, e.g. 99; such an exit skips the task">
      <input type="text" value={text} disabled={readOnly} spellcheck={false} inputMode="numeric" placeholder="none"
             onInput={(e) => { setText(e.target.value); onChange(parseExitCodes(e.target.value)); }} />
    </Field>
  );
}

function CommandField({ path, command, errors, readOnly, onChange }) {
  const [mode, setMode] = useState(typeof command === "string" ? "shell" : "argv");
  const [text, setText] = useState(typeof command === "string" ? command : Array.isArray(command) ? command.join("\n") : "");
  const [switchError, setSwitchError] = useState(null);
  // An error of "command[2]" names the argument (the line, in the argv view).
  const message = errorsAt(errors, path).map((e) => {
    const m = /^\[(\d+)\]$/.exec(e.path.slice(path.length));
    return m ? `argument ${parseInt(m[1], 10) + 1}: ${e.message}` : e.message;
  }).join("; ") || null;
  const multiline = mode === "argv" && Array.isArray(command) ? command.findIndex((a) => a.includes("\n")) : -1;
  const lines = text.split("\n").length;
  const switchTo = (next) => {
    if (next === mode) return;
    setSwitchError(null);
    if (next === "shell") {
      const args = argvLines(text);
      const joined = args ? args.map(shellQuote).join(" ") : "";
      setText(joined); setMode(next); onChange(joined.trim() === "" ? null : joined);
    } else {
      const args = text.trim() === "" ? [] : shellSplit(text);
      if (args === null) { setSwitchError("A quote is not closed: close it to split the command into arguments."); return; }
      setText(args.join("\n")); setMode(next); onChange(args.length ? args : null);
    }
  };
  const onInput = (value) => {
    setText(value); setSwitchError(null);
    onChange(mode === "argv" ? argvLines(value) : (value.trim() === "" ? null : value));
  };
  return (
    <fieldset class={`mlops-command${message ? " has-error" : ""}`}>
      <legend>Command</legend>
      <div class="mlops-segmented" role="radiogroup" aria-label="Command form">
        <label class="mlops-check"><input type="radio" name={`${path}-mode`} value="argv" checked={mode === "argv"} disabled={readOnly}
                                          onChange={() => switchTo("argv")} /> argv list (one argument per line)</label>
        <label class="mlops-check"><input type="radio" name={`${path}-mode`} value="shell" checked={mode === "shell"} disabled={readOnly}
                                          onChange={() => switchTo("shell")} /> shell string</label>
      </div>
      <Field label={mode === "argv" ? "Arguments, one per line" : "Command line"} error={message || switchError}
             hint={mode === "argv"
               ? "each line is one argument, passed as is (no shell): sh, -c, then a script line. Empty: the image's own command"
               : "split into words like a shell would (quotes group words), but not run by one: use sh -c '…' for pipes and $VARS. Empty: the image's own command"}>
        {/* argv: no soft wrapping, so every visible line is one argument */}
        <textarea class="mlops-mono" rows={Math.min(12, Math.max(mode === "argv" ? 4 : 2, lines))} value={text} disabled={readOnly}
                  spellcheck={false} autocomplete="off" wrap={mode === "argv" ? "off" : "soft"}
                  placeholder={readOnly ? "the image's own command"
                    : mode === "argv" ? "python\ntrain.py\n--epochs\n{{ params.epochs }}" : "python train.py --epochs {{ params.epochs }}"}
                  onInput={(e) => onInput(e.target.value)} />
      </Field>
      {multiline >= 0 && (
        <p class="mlops-banner warning" role="note">
          Argument {multiline + 1} spans several lines, which this one-per-line view cannot show as one argument: editing here would split it.
          Switch to "shell string" to edit it quoted.
        </p>
      )}
    </fieldset>
  );
}

function EnvironmentRows({ path, rows, errors, readOnly, onChange }) {
  const setRow = (i, patch) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const names = new Set(rows.map((r) => r.name));
  const rest = errorsAt(errors, path).filter((e) => ![...names].some((n) => e.path === `${path}.${n}`));
  return (
    <fieldset class={`mlops-env${errorsAt(errors, path).length ? " has-error" : ""}`} data-docker-section="environment">
      <legend>Environment</legend>
      <p class="mlops-hint">Plain values (Jinja allowed). Passwords and tokens go in <i>Secret environment</i> below.</p>
      {rows.length === 0 && <p class="mlops-muted">No variables.</p>}
      {rows.length > 0 && <div class="mlops-rows-head" aria-hidden="true"><span>Name</span><span>Value</span><span /></div>}
      {rows.map((row, i) => {
        const err = exactly(errors, `${path}.${row.name}`), eid = `${path}-${i}-err`;
        return (
          <div class="mlops-row mlops-env-row" key={i} data-env-row={i}>
            <Cell error={err} errorId={eid}>
              <input type="text" value={row.name} disabled={readOnly} spellcheck={false} autocomplete="off" placeholder={readOnly ? undefined : "MODE"}
                     {...inputProps(`Name of environment variable ${i + 1}`, err, eid)} onInput={(e) => setRow(i, { name: e.target.value })} />
            </Cell>
            <Cell>
              <input type="text" value={row.value} disabled={readOnly} spellcheck={false} autocomplete="off" placeholder={readOnly ? undefined : "{{ params.mode }}"}
                     aria-label={`Value of environment variable ${i + 1}`} onInput={(e) => setRow(i, { value: e.target.value })} />
            </Cell>
            <RemoveButton readOnly={readOnly} label={`Remove environment variable ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))} />
          </div>
        );
      })}
      {rest.length > 0 && <div class="mlops-error" role="alert">{rest.map((e) => e.message).join("; ")}</div>}
      {!readOnly && <button type="button" class="mlops-add" disabled={rows.length >= MAX_ENV}
                            onClick={() => onChange([...rows, { name: "", value: "" }])}>+ Add variable</button>}
    </fieldset>
  );
}

function SecretRows({ path, rows, errors, readOnly, onChange }) {
  const setRow = (i, patch) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const names = new Set(rows.map((r) => r.name));
  const rest = errorsAt(errors, path).filter((e) => ![...names].some((n) => e.path === `${path}.${n}` || e.path.startsWith(`${path}.${n}.`)));
  return (
    <fieldset class={`mlops-secrets${errorsAt(errors, path).length ? " has-error" : ""}`} data-docker-section="secret_environment">
      <legend>Secret environment</legend>
      <p class="mlops-hint">
        A reference to an Airflow Connection field or an Airflow Variable (Admin → Connections / Variables), looked up when the
        task runs; only the reference is stored, never the value, and task logs mask it.
      </p>
      {rows.length === 0 && <p class="mlops-muted">No secrets.</p>}
      {rows.length > 0 && <div class="mlops-rows-head secrets" aria-hidden="true"><span>Name</span><span>Source</span><span>Id</span><span>Field</span><span /></div>}
      {rows.map((row, i) => {
        const base = `${path}.${row.name}`, n = i + 1;
        const nameErr = exactly(errors, base), idErr = exactly(errors, `${base}.${row.source}`);
        const fieldErr = exactly(errors, `${base}.field`);
        const eid = `${path}-${i}`;
        return (
          <div class="mlops-row mlops-secret-row" key={i} data-secret-row={i} data-source={row.source}>
            <Cell error={nameErr} errorId={`${eid}-name-err`}>
              <input type="text" value={row.name} disabled={readOnly} spellcheck={false} autocomplete="off" placeholder={readOnly ? undefined : "DB_PASSWORD"}
                     {...inputProps(`Name of secret variable ${n}`, nameErr, `${eid}-name-err`)} onInput={(e) => setRow(i, { name: e.target.value })} />
            </Cell>
            <Cell>
              <select value={row.source} disabled={readOnly} aria-label={`Source of secret variable ${n}`}
                      onChange={(e) => setRow(i, { source: e.target.value, field: "password" })}>
                <option value="connection">Connection</option><option value="variable">Variable</option>
              </select>
            </Cell>
            <Cell error={idErr} errorId={`${eid}-id-err`}>
              <input type="text" value={row.id} disabled={readOnly} spellcheck={false} autocomplete="off"
                     placeholder={row.source === "variable" ? "variable key" : "connection id"}
                     {...inputProps(row.source === "variable" ? `Variable key of secret variable ${n}` : `Connection id of secret variable ${n}`, idErr, `${eid}-id-err`)}
                     onInput={(e) => setRow(i, { id: e.target.value })} />
            </Cell>
            <Cell error={fieldErr} errorId={`${eid}-field-err`}>
              {row.source === "connection"
                ? <select value={row.field || "password"} disabled={readOnly} {...inputProps(`Connection field of secret variable ${n}`, fieldErr, `${eid}-field-err`)}
                          onChange={(e) => setRow(i, { field: e.target.value })}>
                    {SECRET_FIELDS.map((f) => <option key={f} value={f}>{f}</option>)}
                  </select>
                : <span class="mlops-muted mlops-cell-text">the variable's value</span>}
            </Cell>
            <RemoveButton readOnly={readOnly} label={`Remove secret variable ${n}`} onClick={() => onChange(rows.filter((_, j) => j !== i))} />
          </div>
        );
      })}
      {rest.length > 0 && <div class="mlops-error" role="alert">{rest.map((e) => e.message).join("; ")}</div>}
      {!readOnly && <button type="button" class="mlops-add" disabled={rows.length >= MAX_ENV}
                            onClick={() => onChange([...rows, { name: "", source: "connection", id: "", field: "password" }])}>+ Add secret</button>}
    </fieldset>
  );
}

function MountRows({ path, rows, errors, readOnly, onChange }) {
  const setRow = (i, patch) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const rest = (errors || []).filter((e) => e.path === path || (e.path.startsWith(`${path}[`) && !/^\[\d+\]\.(source|target)$/.test(e.path.slice(path.length))));
  return (
    <fieldset class={`mlops-mounts${errorsAt(errors, path).length ? " has-error" : ""}`} data-docker-section="mounts">
      <legend>Mounts</legend>
      <p class="mlops-hint">Bind mounts only from folders under the deployment's <code>[mlops] docker_bind_roots</code>; volumes by name; tmpfs takes no source.</p>
      {rows.length === 0 && <p class="mlops-muted">No mounts.</p>}
      {rows.length > 0 && <div class="mlops-rows-head mounts" aria-hidden="true"><span>Type</span><span>Source</span><span>Target</span><span /><span /></div>}
      {rows.map((row, i) => {
        const srcErr = exactly(errors, `${path}[${i}].source`), tgtErr = exactly(errors, `${path}[${i}].target`), n = i + 1;
        const eid = `${path}-${i}`;
        return (
          <div class="mlops-row mlops-mount-row" key={i} data-mount-row={i}>
            <Cell>
              <select value={row.type} disabled={readOnly} aria-label={`Type of mount ${n}`}
                      onChange={(e) => setRow(i, { type: e.target.value, source: e.target.value === "tmpfs" ? null : row.source })}>
                {MOUNT_TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
              </select>
            </Cell>
            <Cell error={srcErr} errorId={`${eid}-src-err`}>
              <input type="text" value={row.source || ""} disabled={readOnly || row.type === "tmpfs"} spellcheck={false} autocomplete="off"
                     placeholder={row.type === "bind" ? "/host/folder" : row.type === "volume" ? "volume name" : "no source"}
                     {...inputProps(`Source of mount ${n}`, srcErr, `${eid}-src-err`)}
                     onInput={(e) => setRow(i, { source: e.target.value === "" ? null : e.target.value })} />
            </Cell>
            <Cell error={tgtErr} errorId={`${eid}-tgt-err`}>
              <input type="text" value={row.target} disabled={readOnly} spellcheck={false} autocomplete="off" placeholder={readOnly ? undefined : "/path/in/container"}
                     {...inputProps(`Target of mount ${n}`, tgtErr, `${eid}-tgt-err`)} onInput={(e) => setRow(i, { target: e.target.value })} />
            </Cell>
            <label class="mlops-check mlops-cell-text">
              <input type="checkbox" checked={!!row.read_only} disabled={readOnly} onChange={(e) => setRow(i, { read_only: e.target.checked })}
                     aria-label={`Mount ${n} read-only`} /> read-only
            </label>
            <RemoveButton readOnly={readOnly} label={`Remove mount ${n}`} onClick={() => onChange(rows.filter((_, j) => j !== i))} />
          </div>
        );
      })}
      {rest.length > 0 && <div class="mlops-error" role="alert">{rest.map((e) => e.message).join("; ")}</div>}
      {!readOnly && <button type="button" class="mlops-add" disabled={rows.length >= MAX_MOUNTS}
                            onClick={() => onChange([...rows, { target: "", source: null, type: "bind", read_only: true }])}>+ Add mount</button>}
    </fieldset>
  );
}

function RemoveButton({ readOnly, label, onClick }) {
  if (readOnly) return <span />;
  return <button type="button" class="danger-text mlops-row-remove" aria-label={label} title={label} onClick={onClick}>Remove</button>;
}
