"""The search tree as a ``networkx.DiGraph``, and its export to JSON, GraphML and HTML.

Node ids are integers in creation order (0 is the root). Every node carries the same
attributes, all plain scalars so that GraphML can hold them:

- ``state`` (str): the state's text; ``depth`` (int); ``value`` (float, 0 until ``judged`` is true);
- ``evaluations`` (str): the evaluator's raw outputs, a JSON list;
- ``tokens`` (int): tokens spent proposing this node's children and judging it;
- ``visits`` (int) and ``q`` (float, mean reward): MCTS's counters; ``terminal`` (bool); ``answer`` (str, empty when none);
- ``pruned`` (bool): dropped by the search; ``chosen`` (bool): on the returned path.

Edges carry ``step`` (str), the step taken. Graph attributes: ``question``, ``task``,
``algorithm``, ``evaluator``.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import networkx as nx

from agent.core.text import dumps
from search.contract import Evaluation, State

_DEFAULTS = {
    "state": "",
    "depth": 0,
    "value": 0.0,
    "judged": False,
    "evaluations": "[]",
    "tokens": 0,
    "visits": 0,
    "q": 0.0,
    "terminal": False,
    "answer": "",
    "pruned": False,
    "chosen": False,
}


class SearchTree:
    """Builds the graph as a search runs and keeps each node's :class:`State`.

    Args:
        question: the question searched.
        **graph_attrs: stored on the graph (task, algorithm, evaluator names).
    """

    def __init__(self, question: str, **graph_attrs: str):
        self.graph = nx.DiGraph(question=question, **graph_attrs)
        self.states: dict[int, State] = {}

    def add(
        self, state: State, parent: int | None = None, step: str = "", terminal: bool = False, answer: str | None = None
    ) -> int:
        """Add a node for ``state`` (under ``parent`` by ``step``) and return its id."""
        node = self.graph.number_of_nodes()
        depth = 0 if parent is None else self.graph.nodes[parent]["depth"] + 1
        attrs = dict(_DEFAULTS, state=state.text, depth=depth, terminal=terminal, answer=answer or "")
        self.graph.add_node(node, **attrs)
        if parent is not None:
            self.graph.add_edge(parent, node, step=step)
        self.states[node] = state
        return node

    def judge(self, node: int, evaluation: Evaluation) -> None:
        """Record an evaluator's verdict on ``node``."""
        self.graph.nodes[node]["value"] = float(evaluation.value)
        self.graph.nodes[node]["judged"] = True
        self.graph.nodes[node]["evaluations"] = json.dumps(list(evaluation.outputs))

    def value(self, node: int) -> float:
        """The node's value; ``-inf`` until it is judged."""
        data = self.graph.nodes[node]
        return data["value"] if data["judged"] else -math.inf

    def children(self, node: int) -> list[int]:
        return list(self.graph.successors(node))

    def path_to(self, node: int) -> list[int]:
        """Node ids from the root to ``node``."""
        path = [node]
        while preds := list(self.graph.predecessors(path[-1])):
            path.append(preds[0])
        return path[::-1]

    def choose(self, path: list[int]) -> list[str]:
        """Mark ``path`` as the chosen one and return its steps."""
        for node in path:
            self.graph.nodes[node]["chosen"] = True
        return [self.graph.edges[a, b]["step"] for a, b in itertools.pairwise(path)]

    def terminals(self) -> list[int]:
        """Nodes holding an answer, best value first (ties: fewer steps, then earlier)."""
        done = [n for n, d in self.graph.nodes(data=True) if d["terminal"] and d["answer"]]
        return sorted(done, key=lambda n: (-self.value(n), self.graph.nodes[n]["depth"], n))


def to_json(graph: nx.DiGraph) -> str:
    """The graph as node-link JSON (any text: a lone surrogate as the text of its escape)."""
    data = nx.node_link_data(graph, edges="edges")
    return dumps(data, indent=1)


def from_json(text: str) -> nx.DiGraph:
    """Reload a graph written by :func:`to_json`."""
    data = json.loads(text)
    return nx.node_link_graph(data, directed=True, multigraph=False, edges="edges")


def write_graphml(graph: nx.DiGraph, path: str | Path) -> None:
    nx.write_graphml(graph, str(path))


def read_graphml(path: str | Path) -> nx.DiGraph:
    """Reload a graph written by :func:`write_graphml` (integer node ids, no GraphML defaults)."""
    graph = nx.read_graphml(str(path), node_type=int)
    for key in ("node_default", "edge_default"):
        graph.graph.pop(key, None)
    return graph


def save(graph: nx.DiGraph, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` in the format its suffix names (``.html``, ``.json``, ``.graphml``).

    Raises:
        ValueError: another suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".json", ".graphml"):
        raise ValueError(
            f"{path}: cannot write a tree as {suffix or 'a file without suffix'}; use .html, .json or .graphml"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".json":
        path.write_text(to_json(graph), encoding="utf-8")
    elif suffix == ".graphml":
        write_graphml(graph, path)
    else:
        from search.html import render_html

        path.write_text(render_html(graph), encoding="utf-8", errors="backslashreplace")  # a lone surrogate too
    return path
