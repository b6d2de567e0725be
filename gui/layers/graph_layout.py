"""Where the graph view puts each layer: a simple layered (Sugiyama-style) layout, top to
bottom by the longest path from the input, few crossings within a rank."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Barycentre sweeps (down then up) to reduce crossings: a few settle a ResNet's blocks.
SWEEPS = 4


@dataclass(frozen=True)
class GraphLayout:
    """Grid positions of a graph's nodes. `slots[name] = (rank, column)`; an edge spanning
    several ranks passes through `bends[(source, target)]`, one (rank, column) per rank in
    between, so that it is drawn around the boxes rather than through them."""

    slots: dict[str, tuple[int, int]]
    bends: dict[tuple[str, str], tuple[tuple[int, int], ...]]
    widths: tuple[int, ...]  # how many columns each rank has, bends included

    @property
    def ranks(self) -> int:
        return len(self.widths)


def layered_layout(names: Sequence[str], inbound: Mapping[str, Sequence[str]]) -> GraphLayout:
    """Lay out the nodes `names` (in model order) with edges source → name for each source in
    `inbound[name]`. Unknown sources and self-loops are ignored; a cycle (a layer shared by
    two places) is broken at the edge that closes it. Nodes without edges keep model order,
    one per rank, as a chain would."""
    known = set(names)
    edges = [(src, dst) for dst in names for src in inbound.get(dst, ()) if src in known]
    edges = [(src, dst) for src, dst in edges if src != dst]
    if not edges:
        return GraphLayout(
            {name: (k, 0) for k, name in enumerate(names)}, {}, tuple(1 for _ in names)
        )
    rank = _longest_path_ranks(names, edges)
    edges = [(src, dst) for src, dst in edges if rank[src] < rank[dst]]
    rows: list[list[object]] = [[] for _ in range(max(rank.values()) + 1)]
    for name in names:
        rows[rank[name]].append(name)
    # A bend is a node of its own in the ordering: (source, target, rank).
    parents: dict[object, list[object]] = {name: [] for name in names}
    for src, dst in edges:
        previous: object = src
        for middle in range(rank[src] + 1, rank[dst]):
            bend = (src, dst, middle)
            rows[middle].append(bend)
            parents[bend] = [previous]
            previous = bend
        parents[dst].append(previous)
    _reduce_crossings(rows, parents)
    slots: dict[str, tuple[int, int]] = {}
    bends: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r, row in enumerate(rows):
        for column, node in enumerate(row):
            if isinstance(node, tuple):
                bends.setdefault((node[0], node[1]), []).append((r, column))
            else:
                slots[str(node)] = (r, column)
    return GraphLayout(
        slots, {edge: tuple(path) for edge, path in bends.items()}, tuple(len(r) for r in rows)
    )


def _longest_path_ranks(names: Sequence[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    sources: dict[str, list[str]] = {name: [] for name in names}
    for src, dst in edges:
        sources[dst].append(src)
    rank: dict[str, int] = {}
    on_path: set[str] = set()
    for start in names:
        # Iterative depth first search: a 500-layer chain would overflow Python's stack.
        stack = [(start, False)]
        while stack:
            name, expanded = stack.pop()
            if name in rank:
                continue
            if expanded:
                on_path.discard(name)
                done = [rank[s] for s in sources[name] if s in rank]
                rank[name] = max(done, default=-1) + 1
                continue
            on_path.add(name)
            stack.append((name, True))
            # A source already on the path closes a cycle: that edge is ignored.
            stack.extend((s, False) for s in sources[name] if s not in rank and s not in on_path)
    return rank


def _reduce_crossings(rows: list[list[object]], parents: dict[object, list[object]]) -> None:
    children: dict[object, list[object]] = {node: [] for row in rows for node in row}
    for node, ups in parents.items():
        for up in ups:
            children[up].append(node)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        order = range(1, len(rows)) if down else range(len(rows) - 2, -1, -1)
        neighbours = parents if down else children
        for r in order:
            fixed = rows[r - 1] if down else rows[r + 1]
            where = {node: k for k, node in enumerate(fixed)}
            rows[r] = _by_barycentre(rows[r], neighbours, where)


def _by_barycentre(
    row: list[object], neighbours: Mapping[object, list[object]], where: Mapping[object, int]
) -> list[object]:
    def key(item: tuple[int, object]) -> tuple[float, int]:
        k, node = item
        placed = [where[n] for n in neighbours.get(node, ()) if n in where]
        # A node without neighbours in the fixed row keeps its place (scaled to that row).
        centre = sum(placed) / len(placed) if placed else k * len(where) / max(len(row), 1)
        return centre, k

    return [node for _, node in sorted(enumerate(row), key=key)]
