// The task graph: dagre lays the tasks out left to right, SVG draws them. It redraws from the tasks it is
// given, so the editor's graph follows every dependency change; a cycle's edges and nodes are marked.
// Docker and branch tasks carry a small badge naming their type (in text, for every reader).
import { h } from "preact";
import { useMemo } from "preact/hooks";
import dagre from "@dagrejs/dagre";

const NODE_W = 150, NODE_H = 36;
const TYPE_BADGES = { docker: { text: "docker", width: 44, spoken: "docker container" }, branch: { text: "branch", width: 44, spoken: "branch" } };

/** ``"dependency cycle: a -> b -> a"`` -> the set of edges ``"a->b"`` (upstream->downstream) in it. */
export function cycleEdges(errors) {
  const edges = new Set(), nodes = new Set();
  for (const e of errors || []) {
    const m = /dependency cycle: (.+)$/.exec(e.message || "");
    if (!m) continue;
    const names = m[1].split(" -> ");
    // find_cycle walks task -> upstream, so a -> b means "a depends on b": the edge is b -> a.
    for (let i = 0; i + 1 < names.length; i++) { edges.add(`${names[i + 1]}->${names[i]}`); nodes.add(names[i]); }
  }
  return { edges, nodes };
}

export function layout(tasks, direction) {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: direction || "LR", nodesep: 18, ranksep: 48, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const names = new Set(tasks.map((t) => t.name).filter(Boolean));
  for (const name of names) g.setNode(name, { width: NODE_W, height: NODE_H });
  for (const t of tasks) {
    for (const dep of t.depends_on || []) if (names.has(dep) && dep !== t.name) g.setEdge(dep, t.name);
  }
  dagre.layout(g);
  const graph = g.graph();
  return {
    width: Math.max(graph.width || 0, 200), height: Math.max(graph.height || 0, 60),
    nodes: g.nodes().map((n) => ({ name: n, ...g.node(n) })),
    edges: g.edges().map((e) => ({ from: e.v, to: e.w, points: g.edge(e).points })),
  };
}

function pathOf(points) {
  return points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

export function TaskGraph({ tasks, errors, states, selected, onSelect, label, direction }) {
  const shape = useMemo(() => layout(tasks || [], direction),
    [direction, JSON.stringify((tasks || []).map((t) => [t.name, t.depends_on]))]);
  const types = {};
  for (const t of tasks || []) if (t.name && !(t.name in types)) types[t.name] = t.type || "python";
  const cycle = cycleEdges(errors);
  if (!tasks || tasks.length === 0) return <div class="mlops-graph-empty">No tasks yet.</div>;
  return (
    <svg class="mlops-graph" role="img" aria-label={label || "Task graph"} viewBox={`0 0 ${shape.width} ${shape.height}`}
         width={shape.width} height={shape.height}>
      <defs>
        <marker id="mlops-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" class="mlops-arrow" />
        </marker>
        <marker id="mlops-arrow-cycle" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" class="mlops-arrow cycle" />
        </marker>
      </defs>
      {shape.edges.map((e) => {
        const inCycle = cycle.edges.has(`${e.from}->${e.to}`);
        return <path key={`${e.from}->${e.to}`} data-edge={`${e.from}->${e.to}`} d={pathOf(e.points)}
                     class={`mlops-edge${inCycle ? " cycle" : ""}`}
                     marker-end={`url(#${inCycle ? "mlops-arrow-cycle" : "mlops-arrow"})`} />;
      })}
      {shape.nodes.map((n) => {
        const state = states && states[n.name];
        const type = types[n.name] || "python";
        const badge = TYPE_BADGES[type];
        const cls = ["mlops-node", cycle.nodes.has(n.name) ? "cycle" : "", selected === n.name ? "selected" : ""].join(" ");
        // The name is centred in the room the badge leaves, and shortened to fit it.
        const room = badge ? NODE_W - badge.width - 10 : NODE_W;
        const maxChars = badge ? 14 : 20;
        const described = `Task ${n.name}${badge ? `, ${badge.spoken}` : ""}${state ? `, ${state}` : ""}`;
        return (
          <g key={n.name} data-node={n.name} data-type={type} class={cls} data-state={state || undefined}
             transform={`translate(${n.x - NODE_W / 2},${n.y - NODE_H / 2})`}
             tabIndex={onSelect ? 0 : undefined} role={onSelect ? "button" : undefined}
             aria-label={onSelect ? described : undefined}
             onClick={onSelect ? () => onSelect(n.name) : undefined}
             onKeyDown={onSelect ? (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); onSelect(n.name); } } : undefined}>
            <rect width={NODE_W} height={NODE_H} rx="6" />
            <text x={room / 2 + (badge ? 4 : 0)} y={NODE_H / 2 + 4} text-anchor="middle">
              {n.name.length > maxChars ? `${n.name.slice(0, maxChars - 1)}…` : n.name}
            </text>
            {badge && (
              <g class="mlops-node-badge" data-badge={type} transform={`translate(${NODE_W - badge.width - 6},${(NODE_H - 16) / 2})`}>
                <rect width={badge.width} height="16" rx="8" />
                <text x={badge.width / 2} y="11.5" text-anchor="middle">{badge.text}</text>
              </g>
            )}
            <title>{n.name}{badge ? ` (${badge.spoken} task)` : ""}{state ? ` (${state})` : ""}</title>
          </g>
        );
      })}
    </svg>
  );
}
