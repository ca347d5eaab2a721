"""Lineage graphs for people: an indented text tree, and a self-contained HTML page
with an SVG drawing (no script, no network: it prints and opens offline)."""

from __future__ import annotations

import html
from collections import defaultdict

from steward.governance.lineage import LineageGraph, Node

KIND_COLOURS = {
    "dataset": "#d9ead3",
    "run": "#cfe2f3",
    "model": "#fff2cc",
    "deployment": "#fce5cd",
    "segment": "#eeeeee",
    "request": "#eeeeee",
    "monitor": "#ead1dc",
    "alert": "#f4cccc",
}
_BOX_WIDTH, _BOX_HEIGHT, _COLUMN_GAP, _ROW_GAP = 210, 46, 70, 18


def _describe(node: Node) -> str:
    extras = ", ".join(
        f"{key} {value}" for key, value in node.attributes.items() if value not in (None, "")
    )
    return f"{node.id}  {node.label}" + (f"  ({extras})" if extras else "")


def to_text(graph: LineageGraph) -> str:
    """The graph as indented lines: upstream (←) then downstream (→) of the root."""
    up: dict[str, list[tuple[str, str]]] = defaultdict(list)
    down: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for edge in graph.edges:
        source, target = graph.depth[edge.source], graph.depth[edge.target]
        if source <= 0 and target <= 0:
            parent, child = (
                (edge.target, edge.source) if target > source else (edge.source, edge.target)
            )
            up[parent].append((child, f"← {edge.relation}"))
        else:
            parent, child = (
                (edge.source, edge.target)
                if abs(source) < abs(target)
                else (edge.target, edge.source)
            )
            down[parent].append((child, f"→ {edge.relation}"))
    lines = [_describe(graph.node(graph.root))]

    def walk(
        children: dict[str, list[tuple[str, str]]], node_id: str, indent: int, seen: set[str]
    ) -> None:
        for child, relation in sorted(children[node_id]):
            again = child in seen
            seen.add(child)
            suffix = "  (shown above)" if again else ""
            lines.append("  " * indent + f"{relation} {_describe(graph.node(child))}{suffix}")
            if not again:
                walk(children, child, indent + 1, seen)

    walk(up, graph.root, 1, {graph.root})
    walk(down, graph.root, 1, {graph.root})
    if graph.truncated:
        lines.append("… more nodes not shown (limit reached)")
    return "\n".join(lines)


def _layout(graph: LineageGraph) -> dict[str, tuple[int, int]]:
    columns: dict[int, list[Node]] = defaultdict(list)
    for node in graph.nodes:
        columns[graph.depth[node.id]].append(node)
    low = min(columns)
    positions = {}
    for depth, members in columns.items():
        for row, node in enumerate(sorted(members, key=lambda n: (n.kind, n.label))):
            x = 20 + (depth - low) * (_BOX_WIDTH + _COLUMN_GAP)
            y = 60 + row * (_BOX_HEIGHT + _ROW_GAP)
            positions[node.id] = (x, y)
    return positions


def to_svg(graph: LineageGraph) -> str:
    """The graph as an SVG drawing: columns from upstream (left) to downstream (right)."""
    positions = _layout(graph)
    width = max(x for x, _ in positions.values()) + _BOX_WIDTH + 20
    height = max(y for _, y in positions.values()) + _BOX_HEIGHT + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    for edge in graph.edges:
        (x1, y1), (x2, y2) = positions[edge.source], positions[edge.target]
        start = (x1 + _BOX_WIDTH, y1 + _BOX_HEIGHT // 2) if x2 > x1 else (x1, y1 + _BOX_HEIGHT // 2)
        end = (x2, y2 + _BOX_HEIGHT // 2) if x2 > x1 else (x2 + _BOX_WIDTH, y2 + _BOX_HEIGHT // 2)
        parts.append(
            f'<line x1="{start[0]}" y1="{start[1]}" x2="{end[0]}" y2="{end[1]}" stroke="#555" '
            f'marker-end="url(#arrow)"><title>{html.escape(edge.relation)}</title></line>'
        )
    for node in graph.nodes:
        x, y = positions[node.id]
        colour = KIND_COLOURS.get(node.kind, "#ffffff")
        stroke = "#000" if node.id == graph.root else "#888"
        label = node.label if len(node.label) <= 30 else node.label[:29] + "…"
        width = 2 if node.id == graph.root else 1
        parts.append(
            f"<g><title>{html.escape(_describe(node))}</title>"
            f'<rect x="{x}" y="{y}" width="{_BOX_WIDTH}" height="{_BOX_HEIGHT}" rx="6" '
            f'fill="{colour}" stroke="{stroke}" stroke-width="{width}"/>'
            f'<text x="{x + 8}" y="{y + 18}" font-weight="bold">{html.escape(node.kind)}</text>'
            f'<text x="{x + 8}" y="{y + 36}">{html.escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def to_html(graph: LineageGraph) -> str:
    """A standalone page: the drawing, then every node and edge as tables."""
    node_rows = "".join(
        f"<tr><td>{html.escape(n.kind)}</td><td><code>{html.escape(n.id)}</code></td>"
        f"<td>{html.escape(n.label)}</td><td>{graph.depth[n.id]}</td></tr>"
        for n in graph.nodes
    )
    edge_rows = "".join(
        f"<tr><td><code>{html.escape(e.source)}</code></td><td>{html.escape(e.relation)}</td>"
        f"<td><code>{html.escape(e.target)}</code></td></tr>"
        for e in graph.edges
    )
    title = f"Lineage of {graph.root}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
        ".drawing{overflow-x:auto}@media print{.drawing{overflow:visible}}"
        f"</style></head><body><h1>{html.escape(title)}</h1>"
        f'<div class="drawing">{to_svg(graph)}</div>'
        "<h2>Nodes</h2><table><thead><tr><th>kind</th><th>id</th><th>label</th>"
        f"<th>depth</th></tr></thead><tbody>{node_rows}</tbody></table>"
        "<h2>Edges</h2><table><thead><tr><th>from</th><th>relation</th><th>to</th></tr>"
        f"</thead><tbody>{edge_rows}</tbody></table></body></html>"
    )
