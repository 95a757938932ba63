// Hand-made SVG charts for comparing runs: a bar per run, a scatter, parallel coordinates and learning curves.
// Drawn from the data in the page only. Colours come from CSS variables (--run-0 .. --run-9, axes and text
// from the theme), so light and dark mode both read well; runs beyond ten repeat a colour with another
// dash pattern or marker. Every chart is role="img" with an accessible name, and every mark has a <title>
// tooltip. Text goes through JSX, which escapes it.
import { h, Fragment } from "preact";

export const PALETTE_SIZE = 10;
const DASHES = [null, "6 3", "2 3", "8 3 2 3", "1 5"];

/** The colour of the run at ``index`` (a CSS variable, so it follows the theme). */
export function runColor(index) {
  return `var(--run-${index % PALETTE_SIZE})`;
}

function runDash(index) {
  return DASHES[Math.floor(index / PALETTE_SIZE) % DASHES.length] || undefined;
}

/** Short and exact enough for an axis or a tooltip: integers as they are, others to 4 significant digits. */
export function fmtNum(v) {
  if (v === null || v === undefined || typeof v !== "number" || !Number.isFinite(v)) return "–";
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/** A readable domain around the values (zero included when ``zero``) and its ticks. */
export function niceScale(values, { zero = false, count = 5, pad = 0 } = {}) {
  const finite = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  let lo = finite.length ? Math.min(...finite) : 0, hi = finite.length ? Math.max(...finite) : 1;
  if (zero) { lo = Math.min(0, lo); hi = Math.max(0, hi); }
  // Room around the values (scatter), so no mark sits on an axis.
  if (pad && hi > lo) { const d = (hi - lo) * pad; if (!(zero && lo === 0)) lo -= d; hi += d; }
  if (lo === hi) { const d = Math.abs(lo) / 2 || 1; lo -= zero && lo === 0 ? 0 : d; hi += d; }
  const step = niceStep(hi - lo, count);
  const min = Number((Math.floor(lo / step + 1e-9) * step).toPrecision(12));
  const max = Number((Math.ceil(hi / step - 1e-9) * step).toPrecision(12));
  const ticks = [];
  for (let v = min; v <= max + step * 1e-6; v += step) ticks.push(Number(v.toPrecision(12)));
  return { min, max, ticks };
}

function linear(min, max, from, to) {
  return (v) => (max === min ? (from + to) / 2 : from + ((v - min) / (max - min)) * (to - from));
}

function clip(text, n) {
  const s = String(text);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** The runs' colours and names, as a list (HTML, so it wraps and reads as text). */
export function Legend({ items }) {
  return (
    <ul class="mlops-legend" aria-label="Legend">
      {items.map((it) => (
        <li key={it.key} data-run-id={it.key}>
          <span class="mlops-swatch" style={{ background: runColor(it.index) }} aria-hidden="true" />
          <b>{it.short}</b> {it.label}
        </li>
      ))}
    </ul>
  );
}

function YAxis({ scale, y, left, right, label, top, bottom }) {
  return (
    <g class="mlops-axis" data-axis="y">
      {scale.ticks.map((t) => (
        <g key={t}>
          <line class="mlops-grid-line" x1={left} x2={right} y1={y(t)} y2={y(t)} />
          <text x={left - 6} y={y(t) + 4} text-anchor="end">{fmtNum(t)}</text>
        </g>
      ))}
      <line x1={left} x2={left} y1={top} y2={bottom} />
      {label && <text class="mlops-axis-label" transform={`translate(14,${(top + bottom) / 2}) rotate(-90)`} text-anchor="middle">{clip(label, 40)}</text>}
    </g>
  );
}

const M = { l: 64, r: 16, t: 14, b: 52 };

/** One bar per run: ``items`` = [{key, short, label, index, value}]. */
export function BarChart({ items, label, valueLabel, id }) {
  const W = Math.max(520, Math.min(1400, 120 + items.length * 26)), H = 280;
  const scale = niceScale(items.map((i) => i.value), { zero: true });
  const y = linear(scale.min, scale.max, H - M.b, M.t);
  const band = (W - M.l - M.r) / Math.max(1, items.length);
  const barW = Math.max(3, Math.min(48, band * 0.7));
  const every = items.length > 24 ? Math.ceil(items.length / 24) : 1;
  return (
    <svg class="mlops-chart" id={id} role="img" aria-label={label} viewBox={`0 0 ${W} ${H}`} width={W} height={H}>
      <YAxis scale={scale} y={y} left={M.l} right={W - M.r} top={M.t} bottom={H - M.b} label={valueLabel} />
      <line class="mlops-axis-zero" x1={M.l} x2={W - M.r} y1={y(0)} y2={y(0)} />
      {items.map((it, i) => {
        const cx = M.l + band * (i + 0.5);
        const has = typeof it.value === "number" && Number.isFinite(it.value);
        const top = has ? Math.min(y(it.value), y(0)) : 0, height = has ? Math.abs(y(it.value) - y(0)) : 0;
        return (
          <g key={it.key}>
            {has ? (
              <rect class="mlops-bar" data-run-id={it.key} data-value={it.value} x={cx - barW / 2} y={top} width={barW}
                    height={Math.max(height, 0.5)} style={{ fill: runColor(it.index) }}>
                <title>{`${it.short} ${it.label}: ${valueLabel} = ${fmtNum(it.value)}`}</title>
              </rect>
            ) : (
              <text class="mlops-missing" x={cx} y={y(0) - 4} text-anchor="middle">–<title>{`${it.short} ${it.label}: no value`}</title></text>
            )}
            {i % every === 0 && <text class="mlops-tick" x={cx} y={H - M.b + 16} text-anchor="middle">{it.short}</text>}
          </g>
        );
      })}
      <line class="mlops-axis-line" x1={M.l} x2={W - M.r} y1={H - M.b} y2={H - M.b} />
      <text class="mlops-axis-label" x={(M.l + W - M.r) / 2} y={H - 10} text-anchor="middle">run</text>
    </svg>
  );
}

/** ``points`` = [{key, short, label, index, x, y}]; x numeric, or categories when ``xCategories`` is given. */
export function ScatterPlot({ points, label, xLabel, yLabel, xCategories, id }) {
  const W = 520, H = 300;
  const ys = niceScale(points.map((p) => p.y), { pad: 0.08 });
  const y = linear(ys.min, ys.max, H - M.b, M.t);
  let x, xTicks;
  if (xCategories) {
    const band = (W - M.l - M.r) / Math.max(1, xCategories.length);
    const at = new Map(xCategories.map((c, i) => [c, M.l + band * (i + 0.5)]));
    x = (v) => at.get(v);
    xTicks = xCategories.map((c) => ({ v: c, at: at.get(c), text: clip(c, 14) }));
  } else {
    const xs = niceScale(points.map((p) => p.x), { pad: 0.08 });
    const sx = linear(xs.min, xs.max, M.l + 8, W - M.r - 8);
    x = sx;
    xTicks = xs.ticks.map((t) => ({ v: t, at: sx(t), text: fmtNum(t) }));
  }
  // Runs on the same spot are nudged apart a little, so each stays visible (and clickable for its tooltip).
  const seen = new Map();
  const placed = points.filter((p) => p.x !== null && p.x !== undefined && typeof p.y === "number" && Number.isFinite(p.y)).map((p) => {
    const px = x(p.x), py = y(p.y), k = `${Math.round(px)},${Math.round(py)}`;
    const n = seen.get(k) || 0;
    seen.set(k, n + 1);
    return { ...p, px: px + (n ? ((n % 2 ? 1 : -1) * Math.ceil(n / 2) * 7) : 0), py };
  });
  return (
    <svg class="mlops-chart" id={id} role="img" aria-label={label} viewBox={`0 0 ${W} ${H}`} width={W} height={H}>
      <YAxis scale={ys} y={y} left={M.l} right={W - M.r} top={M.t} bottom={H - M.b} label={yLabel} />
      <g class="mlops-axis" data-axis="x">
        <line x1={M.l} x2={W - M.r} y1={H - M.b} y2={H - M.b} />
        {xTicks.map((t) => (
          <g key={String(t.v)}>
            <line x1={t.at} x2={t.at} y1={H - M.b} y2={H - M.b + 4} />
            <text x={t.at} y={H - M.b + 17} text-anchor="middle">{t.text}</text>
          </g>
        ))}
        <text class="mlops-axis-label" x={(M.l + W - M.r) / 2} y={H - 10} text-anchor="middle">{clip(xLabel, 60)}</text>
      </g>
      {placed.map((p) => (
        <circle key={p.key} class="mlops-point" data-run-id={p.key} data-x={String(p.x)} data-y={p.y} cx={p.px} cy={p.py} r="6"
                style={{ fill: runColor(p.index) }}>
          <title>{`${p.short} ${p.label}: ${xLabel} = ${typeof p.x === "number" ? fmtNum(p.x) : p.x}, ${yLabel} = ${fmtNum(p.y)}`}</title>
        </circle>
      ))}
    </svg>
  );
}

/** One vertical axis per dimension (its own scale), one line per run: ``rows`` = [{key, short, label, index, values}]. */
export function ParallelCoordinates({ axes, rows, label, id }) {
  const W = Math.max(640, Math.min(1400, 200 * axes.length)), H = 340, top = 44, bottom = H - 28;
  const left = 64, right = W - 64;
  const step = axes.length > 1 ? (right - left) / (axes.length - 1) : 0;
  const scales = axes.map((a, i) => {
    const s = niceScale(rows.map((r) => r.values[a.name]), { count: 4 });
    return { ...s, x: axes.length > 1 ? left + step * i : (left + right) / 2, y: linear(s.min, s.max, bottom, top) };
  });
  const pathOf = (r) => {
    let d = "", pen = false;
    axes.forEach((a, i) => {
      const v = r.values[a.name];
      if (typeof v !== "number" || !Number.isFinite(v)) { pen = false; return; }
      d += `${pen ? "L" : "M"}${scales[i].x.toFixed(1)},${scales[i].y(v).toFixed(1)} `;
      pen = true;
    });
    return d.trim();
  };
  return (
    <svg class="mlops-chart" id={id} role="img" aria-label={label} viewBox={`0 0 ${W} ${H}`} width={W} height={H}>
      {axes.map((a, i) => {
        const s = scales[i];
        return (
          <g key={a.name} class="mlops-axis" data-axis={a.name}>
            <line x1={s.x} x2={s.x} y1={top} y2={bottom} />
            {s.ticks.map((t) => (
              <g key={t}><line x1={s.x - 3} x2={s.x + 3} y1={s.y(t)} y2={s.y(t)} />
                <text class="mlops-halo" x={s.x - 6} y={s.y(t) + 4} text-anchor="end">{fmtNum(t)}</text></g>
            ))}
            <text class="mlops-axis-label" x={s.x} y={top - 22} text-anchor="middle">{clip(a.name, 18)}<title>{a.name}</title></text>
            <text class="mlops-axis-kind" x={s.x} y={top - 9} text-anchor="middle">{a.kind}</text>
          </g>
        );
      })}
      {rows.map((r) => (
        <path key={r.key} class="mlops-pc-line" data-run-id={r.key} d={pathOf(r)}
              style={{ stroke: runColor(r.index), strokeDasharray: runDash(r.index) }}>
          <title>{`${r.short} ${r.label}: ${axes.map((a) => `${a.name} = ${fmtNum(r.values[a.name])}`).join(", ")}`}</title>
        </path>
      ))}
    </svg>
  );
}

/** Learning curves: ``series`` = [{key, short, label, index, points: [{step, value}]}], one line each. */
export function LineChart({ series, label, yLabel, id }) {
  const W = 520, H = 280;
  const all = series.flatMap((s) => s.points);
  const xs = niceScale(all.map((p) => p.step), { count: 6 });
  const ys = niceScale(all.map((p) => p.value));
  const x = linear(xs.min, xs.max, M.l + 6, W - M.r - 6), y = linear(ys.min, ys.max, H - M.b, M.t);
  return (
    <svg class="mlops-chart" id={id} role="img" aria-label={label} viewBox={`0 0 ${W} ${H}`} width={W} height={H}>
      <YAxis scale={ys} y={y} left={M.l} right={W - M.r} top={M.t} bottom={H - M.b} label={yLabel} />
      <g class="mlops-axis" data-axis="x">
        <line x1={M.l} x2={W - M.r} y1={H - M.b} y2={H - M.b} />
        {xs.ticks.filter((t) => Number.isInteger(t) || xs.max - xs.min > 10).map((t) => (
          <g key={t}><line x1={x(t)} x2={x(t)} y1={H - M.b} y2={H - M.b + 4} />
            <text x={x(t)} y={H - M.b + 17} text-anchor="middle">{fmtNum(t)}</text></g>
        ))}
        <text class="mlops-axis-label" x={(M.l + W - M.r) / 2} y={H - 10} text-anchor="middle">step</text>
      </g>
      {series.map((s) => {
        const pts = s.points.slice().sort((a, b) => a.step - b.step);
        const d = pts.map((p, i) => `${i ? "L" : "M"}${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
        return (
          <g key={s.key} class="mlops-series" data-run-id={s.key} data-points={pts.length}>
            <path class="mlops-line" d={d} style={{ stroke: runColor(s.index), strokeDasharray: runDash(s.index) }}>
              <title>{`${s.short} ${s.label}`}</title>
            </path>
            {pts.map((p) => (
              <circle key={p.step} class="mlops-line-point" cx={x(p.step)} cy={y(p.value)} r="3.5" style={{ fill: runColor(s.index) }}
                      data-step={p.step} data-value={p.value}>
                <title>{`${s.short} ${s.label}: step ${p.step}, ${yLabel} = ${fmtNum(p.value)}`}</title>
              </circle>
            ))}
          </g>
        );
      })}
    </svg>
  );
}

/** A step metric's label: ``task.name``, and ``[i]`` for a mapped task's instance. */
export function seriesLabel(s) {
  return `${s.task}.${s.name}${typeof s.map_index === "number" && s.map_index >= 0 ? `[${s.map_index}]` : ""}`;
}

/**
 * Learning curves of one or more runs: one chart per step-metric label, one line per run.
 * ``runs`` = [{key, short, label, index, series: [Series]}].
 */
export function LearningCurves({ runs, legend, idPrefix }) {
  const byLabel = new Map();
  for (const r of runs) {
    for (const s of r.series || []) {
      const name = seriesLabel(s);
      if (!byLabel.has(name)) byLabel.set(name, []);
      byLabel.get(name).push({ key: r.key, short: r.short, label: r.label, index: r.index, points: s.points || [] });
    }
  }
  if (byLabel.size === 0) return <p class="mlops-muted">No step metrics logged (<code>log_metric(name, value, step=…)</code> in a task).</p>;
  return (
    <Fragment>
      <div class="mlops-chart-grid">
        {[...byLabel.keys()].sort().map((name) => (
          <figure key={name} class="mlops-chart-card" data-curve={name}>
            <figcaption>{name}</figcaption>
            <LineChart series={byLabel.get(name)} label={`Learning curve of ${name}`} yLabel={name}
                       id={idPrefix ? `${idPrefix}-${name.replace(/[^A-Za-z0-9_-]/g, "_")}` : undefined} />
          </figure>
        ))}
      </div>
      {legend && <Legend items={runs} />}
    </Fragment>
  );
}
