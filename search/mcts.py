"""Monte Carlo tree search with UCT, shaped like llm-reasoners' ``MCTS``.

One iteration reads like pseudocode::

    path = self._select(root)      # descend by UCT to a node not yet expanded
    self._expand(path[-1])         # propose its children and judge them (the "fast reward")
    self._simulate(path)           # roll out greedily by fast reward to an answer or a dead end
    self._back_propagate(path)     # add the leaf's reward to every node on the path

A reward is the evaluator's value divided by its ``max_value``, so it lies in [0, 1].
"""

from __future__ import annotations

import math

from search.contract import SearchConfig, SearchResult
from search.engine import Engine


class MCTS:
    """UCT search. Reads ``iterations``, ``exploration`` and ``max_nodes`` from the config."""

    name = "mcts"

    def __init__(self, config: SearchConfig):
        self.config = config
        self.engine: Engine | None = None
        self.rewards: list[float] = []  # the reward back-propagated by each iteration

    def search(self, engine: Engine) -> SearchResult:
        self.engine = engine
        for _ in range(self.config.iterations):
            if engine.full():
                break
            path = self._select(engine.root)
            self._expand(path[-1])
            self._simulate(path)
            self._back_propagate(path)
        return engine.finish(iterations=len(self.rewards), exploration=self.config.exploration)

    def _select(self, node: int) -> list[int]:
        path = [node]
        while node in self.engine.expanded and (children := self.engine.tree.children(node)):
            node = max(children, key=lambda c: self._uct(path[-1], c))
            path.append(node)
        return path

    def _expand(self, node: int) -> None:
        self.engine.judge(self.engine.expand(node))

    def _simulate(self, path: list[int]) -> None:
        """Extend ``path`` in place, each time to the child with the best fast reward."""
        while not self.engine.full():
            self._expand(path[-1])
            children = self.engine.tree.children(path[-1])
            if not children:
                return
            path.append(max(children, key=lambda c: (self._fast_reward(c), -c)))

    def _back_propagate(self, path: list[int]) -> None:
        reward = self._fast_reward(path[-1])
        self.rewards.append(reward)
        for node in path:
            data = self.engine.graph.nodes[node]
            data["q"] = (data["q"] * data["visits"] + reward) / (data["visits"] + 1)
            data["visits"] += 1

    def _fast_reward(self, node: int) -> float:
        value = self.engine.tree.value(node)
        return 0.0 if value == -math.inf else value / self.engine.evaluator.max_value

    def _uct(self, parent: int, child: int) -> tuple[float, float]:
        """UCT, unvisited children first (best fast reward among them)."""
        nodes = self.engine.graph.nodes
        if nodes[child]["visits"] == 0:
            return math.inf, self._fast_reward(child)
        explore = math.sqrt(math.log(nodes[parent]["visits"]) / nodes[child]["visits"])
        return nodes[child]["q"] + self.config.exploration * explore, 0.0
