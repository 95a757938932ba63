// The task graph: dagre lays the tasks out left to right, SVG draws them. It redraws from the tasks it is
// given, so the editor's graph follows every dependency change; a cycle's edges and nodes are marked.
import { h } from "preact";
import { useMemo } from "preact/hooks";
import dagre from "@dagrejs/dagre";

const NODE_W = 150, NODE_H = 36;

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
        const cls = ["mlops-node", cycle.nodes.has(n.name) ? "cycle" : "", selected === n.name ? "selected" : ""].join(" ");
        return (
          <g key={n.name} data-node={n.name} class={cls} data-state={state || undefined}
             transform={`translate(${n.x - NODE_W / 2},${n.y - NODE_H / 2})`}
             tabIndex={onSelect ? 0 : undefined} role={onSelect ? "button" : undefined}
             aria-label={onSelect ? `Task ${n.name}${state ? `, ${state}` : ""}` : undefined}
             onClick={onSelect ? () => onSelect(n.name) : undefined}
             onKeyDown={onSelect ? (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); onSelect(n.name); } } : undefined}>
            <rect width={NODE_W} height={NODE_H} rx="6" />
            <text x={NODE_W / 2} y={NODE_H / 2 + 4} text-anchor="middle">
              {n.name.length > 20 ? `${n.name.slice(0, 19)}…` : n.name}
            </text>
            <title>{n.name}{state ? ` (${state})` : ""}</title>
          </g>
        );
      })}
    </svg>
  );
}
