"""An offline, self-contained HTML page of a search tree.

Inline SVG, CSS and a few lines of JavaScript; nothing is fetched from the network.
Nodes are coloured by value (red to green, on a log scale), the chosen path is drawn thick, pruned nodes
are faded, answers are squares. Hover a node for its state; click it for every detail.
"""

from __future__ import annotations

import html
import json
import math

import networkx as nx

DX, DY, R, MARGIN = 34, 92, 11, 40  # horizontal slot per leaf, level height, node radius, page margin

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f7fb;color:#1f2430}
header{padding:16px 24px;background:#fff;border-bottom:1px solid #e3e6ee}
h1{font-size:18px;margin:0 0 6px}
.meta span{display:inline-block;margin-right:14px;color:#5b6275}.meta b{color:#1f2430}
main{display:flex;gap:16px;padding:16px 24px;align-items:flex-start}
#canvas{flex:1;overflow:auto;background:#fff;border:1px solid #e3e6ee;border-radius:10px;max-height:82vh}
aside{width:340px;flex:none;background:#fff;border:1px solid #e3e6ee;border-radius:10px;padding:14px;
position:sticky;top:16px}
aside pre{white-space:pre-wrap;background:#f3f4f8;padding:8px;border-radius:6px;font-size:13px;margin:6px 0}
.edge{fill:none;stroke:#c7ccd9;stroke-width:1.4}.edge.chosen{stroke:#f08c00;stroke-width:4}
.node{cursor:pointer}.node circle,.node rect{stroke:#fff;stroke-width:2}
.node.chosen circle,.node.chosen rect{stroke:#f08c00;stroke-width:4}
.node.pruned{opacity:.38}.node:hover circle,.node:hover rect{stroke:#1f2430}
.node text{font-size:9px;fill:#fff;text-anchor:middle;dominant-baseline:central;pointer-events:none}
.label{font-size:11px;fill:#b35c00;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}
.legend span{display:inline-block;width:12px;height:12px;border-radius:6px;vertical-align:middle;margin:0 4px 0 10px}
"""

_JS = """
const data=JSON.parse(document.getElementById('tree-data').textContent);
const show=(id)=>{const n=data[id];const el=document.getElementById('details');
const rows=[['node',id],['depth',n.depth],['value',n.judged?+n.value.toFixed(3):'not judged'],['visits / q',n.visits+' / '+(+n.q.toFixed(3))],
['tokens',n.tokens],['terminal',n.terminal],['pruned',n.pruned],['chosen',n.chosen]];
el.innerHTML='';const h=document.createElement('h3');h.textContent='Node '+id;el.appendChild(h);
const add=(label,text)=>{const b=document.createElement('b');b.textContent=label;el.appendChild(b);
const p=document.createElement('pre');p.textContent=text;el.appendChild(p);};
if(n.step)add('step',n.step);add('state',n.state);if(n.answer)add('answer',n.answer);
add('evaluator outputs',JSON.parse(n.evaluations).join('\\n---\\n')||'(none)');
add('counters',rows.map(r=>r[0]+': '+r[1]).join('\\n'));};
document.querySelectorAll('.node').forEach(g=>g.addEventListener('click',()=>show(g.dataset.id)));
"""


def layout(graph: nx.DiGraph) -> dict[int, tuple[float, float]]:
    """Positions: leaves in depth-first order one slot apart, parents centred over their children."""
    pos: dict[int, tuple[float, float]] = {}
    slot = 0
    roots = [n for n in graph.nodes if graph.in_degree(n) == 0]
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            children = sorted(graph.successors(node))
            y = MARGIN + graph.nodes[node].get("depth", 0) * DY
            if not children:
                pos[node] = (MARGIN + slot * DX, y)
                slot += 1
            elif done:
                pos[node] = ((pos[children[0]][0] + pos[children[-1]][0]) / 2, y)
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(children))
    return pos


def _colour(data: dict, top: float) -> str:
    if not data.get("judged"):
        return "#9aa1b1"
    # log scale: the paper's values span 0.001 to 60, and "likely" (1) should not look like "impossible"
    share = max(0.0, min(1.0, math.log1p(max(data["value"], 0.0)) / math.log1p(top))) if top > 0 else 0.0
    return f"hsl({round(120 * share)},62%,44%)"


def _short(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(graph: nx.DiGraph, pos: dict[int, tuple[float, float]]) -> str:
    top = max((d["value"] for _, d in graph.nodes(data=True) if d.get("judged")), default=0.0)
    width = max((x for x, _ in pos.values()), default=0) + MARGIN + 280  # room for the last path label
    height = max((y for _, y in pos.values()), default=0) + MARGIN
    parts = [f'<svg width="{width:.0f}" height="{height:.0f}" role="img" aria-label="search tree">']
    for a, b in graph.edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        chosen = " chosen" if graph.nodes[a].get("chosen") and graph.nodes[b].get("chosen") else ""
        parts.append(
            f'<path class="edge{chosen}" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{(y1 + y2) / 2:.1f} '
            f'{x2:.1f},{(y1 + y2) / 2:.1f} {x2:.1f},{y2:.1f}"/>'
        )
    for node, data in graph.nodes(data=True):
        x, y = pos[node]
        cls = "node" + (" chosen" if data.get("chosen") else "") + (" pruned" if data.get("pruned") else "")
        fill = _colour(data, top)
        shape = (
            f'<rect x="{x - R:.1f}" y="{y - R:.1f}" width="{2 * R}" height="{2 * R}" rx="3" fill="{fill}"/>'
            if data.get("terminal")
            else f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{R}" fill="{fill}"/>'
        )
        text = _short(data["value"]) if data.get("judged") else ""
        parts.append(
            f'<g class="{cls}" data-id="{node}"><title>{html.escape(data.get("state", ""))}</title>'
            f'{shape}<text x="{x:.1f}" y="{y:.1f}">{text}</text></g>'
        )
        preds = list(graph.predecessors(node))
        if data.get("chosen") and preds:
            step = graph.edges[preds[0], node].get("step", "")
            label = step if len(step) <= 40 else step[:39] + "…"
            parts.append(f'<text class="label" x="{x + R + 4:.1f}" y="{y - R:.1f}">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _node_data(graph: nx.DiGraph) -> str:
    data = {}
    for node, attrs in graph.nodes(data=True):
        preds = list(graph.predecessors(node))
        step = graph.edges[preds[0], node].get("step", "") if preds else ""
        data[str(node)] = {**attrs, "step": step}
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def render_html(graph: nx.DiGraph, title: str = "Tree of Thoughts") -> str:
    """The whole page for ``graph`` (a tree made by :mod:`search.tree`)."""
    g = graph.graph
    meta = [
        ("question", g.get("question", "")),
        ("answer", g.get("answer", "") or "(none)"),
        ("task", g.get("task", "")),
        ("algorithm", g.get("algorithm", "")),
        ("evaluator", g.get("evaluator", "")),
        ("nodes", graph.number_of_nodes()),
    ]
    meta_html = "".join(f"<span>{k}: <b>{html.escape(str(v))}</b></span>" for k, v in meta)
    legend = (
        '<span style="background:hsl(0,62%,44%)"></span>low value<span style="background:hsl(120,62%,44%)">'
        '</span>high value<span style="background:#9aa1b1"></span>not judged'
        '<span style="background:#f08c00"></span>chosen path; squares hold answers'
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>
<body><header><h1>{html.escape(title)}</h1><div class="meta">{meta_html}</div>
<div class="legend">{legend}</div></header>
<main><div id="canvas">{_svg(graph, layout(graph))}</div>
<aside id="details"><h3>Details</h3><p>Click a node to see its state, value and the evaluator's outputs.</p></aside>
</main>
<script type="application/json" id="tree-data">{_node_data(graph)}</script>
<script>{_JS}</script>
</body></html>
"""
