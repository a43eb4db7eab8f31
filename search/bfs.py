"""Breadth-first search with a beam: the Tree-of-Thoughts paper's BFS (its Algorithm 1).

At each level every state of the frontier is expanded (``n_generate`` samples of the
propose prompt in one call), all the new states are judged, and ``beam`` of them are kept:
the best ones (``selection="greedy"``) or a draw in proportion to value
(``selection="sample"``, without replacement). A state that already holds an answer stays
in the running with the value it was given.
"""

from __future__ import annotations

import random

from search.contract import SearchConfig, SearchResult
from search.engine import Engine


class BFS:
    """The paper's BFS. Reads ``beam``, ``selection`` and ``seed`` from the config."""

    name = "bfs"

    def __init__(self, config: SearchConfig):
        if config.selection not in ("greedy", "sample"):
            raise ValueError(f"selection must be 'greedy' or 'sample', not {config.selection!r}")
        self.config = config
        self.levels: list[list[int]] = []  # the frontier kept at each level

    def search(self, engine: Engine) -> SearchResult:
        frontier = [engine.root]
        for depth in range(engine.max_depth):
            candidates = self._generate(engine, frontier)
            if not candidates:
                break
            values = engine.judge(candidates)
            frontier = self._select(candidates, values, depth)
            engine.prune([c for c in candidates if c not in frontier])
            self.levels.append(frontier)
            if all(engine.terminal(n) for n in frontier):
                break
        finished = [n for n in frontier if engine.terminal(n) and engine.graph.nodes[n]["answer"]]
        chosen = max(finished, key=lambda n: (engine.tree.value(n), -n)) if finished else None
        return engine.finish(chosen, beam=self.config.beam, levels=len(self.levels))

    def _generate(self, engine: Engine, frontier: list[int]) -> list[int]:
        """The frontier's children; finished states are carried over as they are."""
        candidates: list[int] = []
        for node in frontier:
            candidates.extend([node] if engine.terminal(node) else engine.expand(node))
        return candidates

    def _select(self, candidates: list[int], values: list[float], depth: int) -> list[int]:
        beam = self.config.beam
        if self.config.selection == "greedy":
            order = sorted(range(len(candidates)), key=lambda i: -values[i])  # stable: earlier wins ties
            return [candidates[i] for i in order[:beam]]
        rng = random.Random(self.config.seed * 1000 + depth)
        pool = list(range(len(candidates)))
        kept = []
        while pool and len(kept) < beam:
            weights = [max(values[i], 0.0) for i in pool]
            pick = rng.choices(pool, weights=weights if sum(weights) > 0 else None)[0]
            pool.remove(pick)
            kept.append(candidates[pick])
        return kept
