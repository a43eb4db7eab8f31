"""Depth-first search with pruning and backtracking (the paper's DFS, used there for crosswords).

From a state, its children are proposed and judged, then visited best first; a child
valued below ``value_threshold`` is pruned, and when a subtree yields no answer the
search backtracks to the next sibling. It stops at the first answer whose value clears
the threshold, or when the tree holds ``max_nodes`` nodes.
"""

from __future__ import annotations

from search.contract import SearchConfig, SearchResult
from search.engine import Engine


class DFS:
    """The paper's DFS. Reads ``value_threshold`` and ``max_nodes`` from the config."""

    name = "dfs"

    def __init__(self, config: SearchConfig):
        self.config = config
        self.solution: int | None = None
        self.backtracks = 0
        self.visits: list[int] = []  # nodes in the order they were entered

    def search(self, engine: Engine) -> SearchResult:
        self._visit(engine, engine.root)
        return engine.finish(self.solution, backtracks=self.backtracks, threshold=self.config.value_threshold)

    def _visit(self, engine: Engine, node: int) -> None:
        self.visits.append(node)
        if engine.terminal(node):
            if engine.tree.value(node) >= self.config.value_threshold:
                self.solution = node
            return
        children = engine.expand(node)
        values = engine.judge(children)
        engine.prune([c for c, v in zip(children, values) if v < self.config.value_threshold])
        ranked = sorted(zip(children, values), key=lambda cv: -cv[1])
        for child in [c for c, v in ranked if v >= self.config.value_threshold]:
            if self._done(engine):
                return
            self._visit(engine, child)
            if self.solution is not None:
                return
            self.backtracks += 1

    def _done(self, engine: Engine) -> bool:
        return self.solution is not None or engine.full()
