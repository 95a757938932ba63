// Notifications of a workflow: per event (failure, success, retry) a list of channels (Slack webhook,
// Slack Web API, email), each naming an Airflow Connection by id (secrets stay in Airflow), the
// deployment's default channels, and a test send through the saved version's channels.
import { h, Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, enc } from "./api.js";
import { Field, errorsAt, firstMessage } from "./ui.jsx";

export const EVENTS = [
  ["on_failure", "On failure", "once per run, when it fails"],
  ["on_success", "On success", "once per run, when it succeeds"],
  ["on_retry", "On retry", "once per task retry"],
];
export const CHANNEL_TYPES = [["slack_webhook", "Slack webhook"], ["slack", "Slack (Web API)"], ["email", "Email"]];
export const MAX_CHANNELS = 20;
// The [mlops] *_conn_id defaults as shipped (Airflow's provider defaults); the server's answer wins when it gives them
// (``connections`` of GET /notifications/defaults, type -> connection id).
const PROVIDER_DEFAULT_CONN = { slack_webhook: "slack_default", slack: "slack_api_default", email: "smtp_default" };

export function eventLabel(event) {
  const found = EVENTS.find(([k]) => k === event);
  return found ? found[1] : event;
}

export function typeLabel(type) {
  const found = CHANNEL_TYPES.find(([k]) => k === type);
  return found ? found[1] : type;
}

/** One channel with every key in a fixed order, so a draft compares equal to what the server returns. */
export function normalizeChannel(c) {
  return { type: c.type || "slack_webhook", connection_id: c.connection_id ?? null, channel: c.channel ?? null,
    to: Array.isArray(c.to) ? [...c.to] : [] };
}

export function normalizeNotifications(n) {
  const src = n || {};
  const out = {};
  for (const [event] of EVENTS) out[event] = (src[event] || []).map(normalizeChannel);
  out.use_defaults = src.use_defaults !== false;
  return out;
}

export function channelCount(n) {
  return n ? EVENTS.reduce((sum, [event]) => sum + (n[event] || []).length, 0) : 0;
}

export function parseRecipients(text) {
  return text.split(/[,;\n]+/).map((s) => s.trim()).filter(Boolean);
}

function defaultConnection(type, defaults) {
  const named = defaults && defaults.connections && defaults.connections[type];
  return named || PROVIDER_DEFAULT_CONN[type];
}

/** "Slack webhook `conn` → #channel" (text only: Preact escapes it). */
export function ChannelSummary({ channel, defaults }) {
  return (
    <span class="mlops-channel-summary">
      {typeLabel(channel.type)} <code>{channel.connection_id || defaultConnection(channel.type, defaults)}</code>
      {channel.channel ? <Fragment> → {channel.channel}</Fragment> : null}
      {channel.to && channel.to.length ? <Fragment> → {channel.to.join(", ")}</Fragment> : null}
    </span>
  );
}

export function NotificationsEditor({ value, onChange, errors, readOnly, defaults, defaultsError }) {
  const n = value;
  const setEvent = (event, channels) => onChange({ ...n, [event]: channels });
  const useDefaultsError = firstMessage(errors, "notifications.use_defaults");
  const rootErrors = (errors || []).filter((e) => e.path === "notifications");
  return (
    <div class="mlops-notifications" id="mlops-notifications">
      <p class="mlops-hint" role="note">
        Secrets (webhook URLs, bot tokens, SMTP passwords) belong in Airflow Connections (Admin → Connections);
        the workflow stores only the connection id. An empty connection id uses the deployment's default connection for the type.
      </p>
      {rootErrors.length > 0 && <div class="mlops-error" role="alert">{rootErrors.map((e) => e.message).join("; ")}</div>}
      {EVENTS.map(([event, label, when]) => (
        <EventChannels key={event} event={event} label={label} when={when} channels={n[event]} errors={errors} readOnly={readOnly}
                       defaults={defaults} set={(channels) => setEvent(event, channels)} />
      ))}
      <fieldset class={`mlops-notify-defaults${useDefaultsError ? " has-error" : ""}`} id="mlops-notify-defaults">
        <legend>Deployment defaults</legend>
        <label class="mlops-check">
          <input type="checkbox" checked={n.use_defaults} disabled={readOnly} onChange={(e) => onChange({ ...n, use_defaults: e.target.checked })} />
          {" "}Also send to the deployment's default channels
        </label>
        {useDefaultsError && <div class="mlops-error" role="alert">{useDefaultsError}</div>}
        <DefaultsList defaults={defaults} error={defaultsError} used={n.use_defaults} />
      </fieldset>
    </div>
  );
}

function DefaultsList({ defaults, error, used }) {
  if (error) return <p class="mlops-muted">The deployment's default channels could not be loaded ({error.message}).</p>;
  if (!defaults) return <p class="mlops-muted">Loading the deployment's default channels…</p>;
  const channels = defaults.channels || [], events = defaults.events || [];
  if (!channels.length || !events.length) return <p class="mlops-muted" id="mlops-notify-defaults-list">This deployment has no default channels.</p>;
  return (
    <div id="mlops-notify-defaults-list" class={used ? "" : "mlops-muted"}>
      <ul class="mlops-changes">
        {events.map((event) => (
          <li key={event} data-default-event={event}>
            {eventLabel(event).toLowerCase()}:{" "}
            {channels.map((c, i) => <Fragment key={i}>{i > 0 && ", "}<ChannelSummary channel={c} defaults={defaults} /></Fragment>)}
          </li>
        ))}
      </ul>
      {!used && <p class="mlops-hint">Not used by this workflow (the box is unchecked).</p>}
    </div>
  );
}

function EventChannels({ event, label, when, channels, errors, readOnly, defaults, set }) {
  const prefix = `notifications.${event}`;
  const own = (errors || []).filter((e) => e.path === prefix);
  const add = () => set([...channels, normalizeChannel({ type: "slack_webhook" })]);
  return (
    <fieldset class={`mlops-notify-event${errorsAt(errors, prefix).length ? " has-error" : ""}`} data-event={event}>
      <legend>{label} <span class="mlops-muted">({when})</span></legend>
      {channels.length === 0 && <p class="mlops-muted">No channels.</p>}
      {channels.map((c, i) => (
        <ChannelRow key={i} event={event} eventLabel={label} index={i} channel={c} errors={errors} readOnly={readOnly} defaults={defaults}
                    set={(patch) => set(channels.map((x, j) => (j === i ? { ...x, ...patch } : x)))}
                    remove={() => set(channels.filter((_, j) => j !== i))} />
      ))}
      {own.length > 0 && <div class="mlops-error" role="alert">{own.map((e) => e.message).join("; ")}</div>}
      {!readOnly && (
        <button type="button" class="mlops-add" disabled={channels.length >= MAX_CHANNELS} onClick={add}
                title={channels.length >= MAX_CHANNELS ? `At most ${MAX_CHANNELS} channels per event` : `Add a channel for ${label.toLowerCase()}`}>
          + Add channel
        </button>
      )}
    </fieldset>
  );
}

const CHANNEL_FIELD = /^\.(type|connection_id|channel|to)(\.|\[|$)/;

function ChannelRow({ event, eventLabel: label, index, channel, errors, readOnly, defaults, set, remove }) {
  const p = `notifications.${event}[${index}]`;
  const msg = (field) => firstMessage(errors, `${p}.${field}`);
  const other = errorsAt(errors, p).filter((e) => !CHANNEL_FIELD.test(e.path.slice(p.length)));
  // The recipients as typed ("a@x, " stays while typing); re-read when the list changes from outside.
  const [toText, setToText] = useState(channel.to.join(", "));
  useEffect(() => {
    if (parseRecipients(toText).join("\n") !== channel.to.join("\n")) setToText(channel.to.join(", "));
  }, [channel.to.join("\n")]);
  const changeType = (type) => set({ type, channel: type === "slack" ? channel.channel : null, to: type === "email" ? channel.to : [] });
  const hasError = errorsAt(errors, p).length > 0;
  return (
    <fieldset class={`mlops-channel${hasError ? " has-error" : ""}`} data-channel={index} data-type={channel.type}>
      <legend>Channel {index + 1}</legend>
      <div class="mlops-grid4">
        <Field label="Type" error={msg("type")}>
          <select value={channel.type} disabled={readOnly} onChange={(e) => changeType(e.target.value)}>
            {CHANNEL_TYPES.map(([k, text]) => <option key={k} value={k}>{text}</option>)}
          </select>
        </Field>
        <Field label="Connection id" error={msg("connection_id")} hint="an Airflow Connection; empty: the default">
          <input type="text" value={channel.connection_id || ""} disabled={readOnly} autocomplete="off" spellcheck={false}
                 placeholder={`default: ${defaultConnection(channel.type, defaults)}`}
                 onInput={(e) => set({ connection_id: e.target.value === "" ? null : e.target.value })} />
        </Field>
        {channel.type === "slack" && (
          <Field label="Slack channel" error={msg("channel")} hint="required: #name or a channel id">
            <input type="text" value={channel.channel || ""} disabled={readOnly} autocomplete="off" spellcheck={false} placeholder="#ml-alerts"
                   onInput={(e) => set({ channel: e.target.value === "" ? null : e.target.value })} />
          </Field>
        )}
        {channel.type === "email" && (
          <Field label="Recipients" error={msg("to")} hint="comma or newline separated; 1 to 50 addresses">
            <textarea rows="2" value={toText} disabled={readOnly} spellcheck={false} placeholder="a@example.com, b@example.com"
                      onInput={(e) => { setToText(e.target.value); set({ to: parseRecipients(e.target.value) }); }} />
          </Field>
        )}
        {channel.type === "slack_webhook" && <div class="mlops-hint mlops-inline">The webhook's own channel.</div>}
        {!readOnly && (
          <div class="mlops-inline">
            <button type="button" class="danger-text" aria-label={`Remove channel ${index + 1} of ${label.toLowerCase()}`} onClick={remove}>
              Remove channel
            </button>
          </div>
        )}
      </div>
      {other.length > 0 && <div class="mlops-error" role="alert">{other.map((e) => e.message).join("; ")}</div>}
    </fieldset>
  );
}

/** Send a test message through the SAVED version's channels for an event, and show each channel's answer. */
export function TestNotification({ workflow, dirty, draft, defaults }) {
  const [event, setEvent] = useState("on_failure");
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState(null);   // { version, event, results }
  const [error, setError] = useState(null);
  const saved = normalizeNotifications(workflow.notifications);
  const own = saved[event].length;
  const fromDefaults = saved.use_defaults && defaults && (defaults.events || []).includes(event) ? (defaults.channels || []).length : 0;
  // Known to have nothing to send to (without the defaults' answer, let the server decide).
  const none = own === 0 && (!saved.use_defaults || (defaults && fromDefaults === 0));
  const total = own + fromDefaults;
  // A draft's channels are not tested: the test uses the published version.
  const which = draft ? `published version ${workflow.version} (not the draft)` : `saved version ${workflow.version}`;
  const hint = dirty ? "Save first, then publish: the test uses the published version."
    : none ? `The ${draft ? "published" : "saved"} version has no channels for ${eventLabel(event).toLowerCase()}.`
    : defaults ? `Sends a test message through the ${total} channel${total === 1 ? "" : "s"} of ${which}.`
    : `Sends a test message through the channels of ${which}.`;

  const send = async () => {
    setBusy(true); setError(null); setOutcome(null);
    try {
      const result = await api.post(`/workflows/${enc(workflow.id)}/notifications/test`, { event });
      setOutcome({ version: workflow.version, event: result.event || event, results: result.results || [] });
    } catch (e) { setError(e); } finally { setBusy(false); }
  };

  const results = outcome ? outcome.results : [];
  const okCount = results.filter((r) => r.ok).length;
  return (
    <section class="mlops-notify-test" id="mlops-notify-test" aria-labelledby="mlops-notify-test-h">
      <h3 id="mlops-notify-test-h">Send a test notification</h3>
      <div class="mlops-filters">
        <Field label="Event">
          <select value={event} onChange={(e) => { setEvent(e.target.value); setError(null); }}>
            {EVENTS.map(([k, label]) => <option key={k} value={k}>{label}</option>)}
          </select>
        </Field>
        <button type="button" class="primary" disabled={busy || dirty || none} aria-describedby="mlops-notify-test-hint" onClick={send}>
          {busy ? "Sending…" : "Send test notification"}
        </button>
      </div>
      <p class="mlops-hint" id="mlops-notify-test-hint">{hint}</p>
      <div id="mlops-notify-results" aria-live="polite">
        {error && (
          <div class="mlops-error" role="alert">
            {error.errors && error.errors.length ? error.errors.map((e) => e.message).join("; ") : error.message}
          </div>
        )}
        {outcome && (
          <Fragment>
            <p role="status" class={okCount === results.length ? "add" : "del"}>
              <b>{okCount} of {results.length} channel{results.length === 1 ? "" : "s"} ok</b> · test of {eventLabel(outcome.event).toLowerCase()},
              version {outcome.version}
            </p>
            <table class="mlops-table compact">
              <thead><tr><th>Result</th><th>Type</th><th>Connection</th><th>Target</th><th>Error</th></tr></thead>
              <tbody>
                {results.map((r, i) => (
                  <tr key={i} data-ok={r.ok ? "true" : "false"} data-connection-id={r.connection_id || ""}>
                    <td><span class="mlops-state" data-state={r.ok ? "success" : "failed"}>{r.ok ? "ok" : "failed"}</span></td>
                    <td>{typeLabel(r.type)}</td>
                    <td><code>{r.connection_id || "default"}</code></td>
                    <td>{r.target || <span class="mlops-muted">–</span>}</td>
                    <td class={r.ok ? "" : "mlops-error"}>{r.ok ? "" : (r.error || "failed")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Fragment>
        )}
      </div>
    </section>
  );
}
