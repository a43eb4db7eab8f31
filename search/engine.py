"""What every search algorithm does to the tree: expand a node, judge nodes, finish.

An :class:`Engine` holds one run's task, metered model, evaluator, config and tree, so
the algorithms (``bfs.py``, ``dfs.py``, ``mcts.py``) only decide *which* node comes next.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from search.contract import Evaluator, SearchConfig, SearchResult, Task, provenance
from search.meter import MeteredModel
from search.tree import SearchTree

log = logging.getLogger(__name__)


class Engine:
    """One search run.

    Args:
        question: the question searched.
        task: the task.
        model: the model, metered (its counters become the run's stats).
        evaluator: what judges candidate states.
        config: budgets and sampling settings.
        algorithm: the algorithm's name, for the stats.
    """

    def __init__(
        self, question: str, task: Task, model: MeteredModel, evaluator: Evaluator, config: SearchConfig, algorithm: str
    ):
        self.task = task
        self.model = model
        self.evaluator = evaluator
        self.config = config
        self.algorithm = algorithm
        self.max_depth = config.max_depth or task.max_depth
        self.n_generate = config.n_generate or task.n_generate
        self.tree = SearchTree(question, task=task.name, algorithm=algorithm, evaluator=evaluator.name)
        self.root = self.tree.add(task.initial_state(question))
        self.expanded: set[int] = set()
        self._t0 = time.perf_counter()

    @property
    def graph(self):
        return self.tree.graph

    def terminal(self, node: int) -> bool:
        return self.graph.nodes[node]["terminal"]

    def full(self) -> bool:
        """Whether the tree has reached ``config.max_nodes``."""
        return self.graph.number_of_nodes() >= self.config.max_nodes

    def expand(self, node: int) -> list[int]:
        """Propose the children of ``node`` (once; later calls return the same children)."""
        if node in self.expanded:
            return self.tree.children(node)
        self.expanded.add(node)
        state = self.tree.states[node]
        if self.terminal(node) or self.graph.nodes[node]["depth"] >= self.max_depth:
            return []
        before = self.model.usage
        steps = self.task.propose(self.model, state, self.n_generate, temperature=self.config.temperature, seed=None)
        for step in steps:
            child = self.task.apply(state, step)
            terminal = self.task.is_terminal(child)
            self.tree.add(child, node, step, terminal=terminal, answer=self.task.answer(child) if terminal else None)
        self.graph.nodes[node]["tokens"] += (self.model.usage - before).tokens
        log.debug("expanded node %d: %d children", node, len(steps))
        return self.tree.children(node)

    def judge(self, nodes: list[int]) -> list[float]:
        """Values of ``nodes``, asking the evaluator about those not judged yet."""
        todo = [n for n in nodes if not self.graph.nodes[n]["judged"]]
        if todo:
            before = self.model.usage
            evaluations = self.evaluator.evaluate(self.model, self.task, [self.tree.states[n] for n in todo])
            share = (self.model.usage - before).tokens // len(todo)
            for node, evaluation in zip(todo, evaluations):
                self.tree.judge(node, evaluation)
                self.graph.nodes[node]["tokens"] += share
        return [self.tree.value(n) for n in nodes]

    def prune(self, nodes: list[int]) -> None:
        for node in nodes:
            self.graph.nodes[node]["pruned"] = True

    def finish(self, chosen: int | None = None, **extra_stats) -> SearchResult:
        """The result, choosing ``chosen`` or else the best-valued terminal (else the best deepest node)."""
        if chosen is None:
            terminals = self.tree.terminals()
            chosen = terminals[0] if terminals else self._best_partial()
        path = self.tree.path_to(chosen)
        steps = self.tree.choose(path)
        answer = self.task.answer(self.tree.states[chosen])
        self.graph.graph["answer"] = answer or ""
        return SearchResult(answer=answer, best_path=steps, tree=self.graph, stats=self._stats(answer, extra_stats))

    def _best_partial(self) -> int:
        nodes = list(self.graph.nodes)
        return max(nodes, key=lambda n: (self.graph.nodes[n]["depth"], self.tree.value(n), -n))

    def _task_options(self) -> dict:
        """The task's plain settings (e.g. how Game of 24 answers are written), for honest reports."""
        if not dataclasses.is_dataclass(self.task):
            return {}
        values = {f.name: getattr(self.task, f.name) for f in dataclasses.fields(self.task)}
        return {k: v for k, v in values.items() if isinstance(v, (str, int, float, bool)) or v is None}

    def _stats(self, answer: str | None, extra: dict) -> dict:
        usage = self.model.usage
        validate = getattr(self.task, "validate", None)
        question = self.graph.graph["question"]
        return {
            "nodes": self.graph.number_of_nodes(),
            "expanded": len(self.expanded),
            "depth": max(d for _, d in self.graph.nodes(data="depth")),
            "model_calls": usage.calls,
            "samples": usage.samples,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "model_seconds": round(usage.seconds, 3),
            "seconds": round(time.perf_counter() - self._t0, 3),
            "algorithm": self.algorithm,
            "task": self.task.name,
            "evaluator": self.evaluator.name,
            **provenance(self.task, self.evaluator),  # proposer, judge, model_only
            "cache_hits": getattr(self.evaluator, "hits", 0),
            "model": self.model.name,
            "task_options": self._task_options(),
            # scoring only: never used to choose the answer
            "valid": bool(validate(question, answer)) if validate and answer is not None else None,
            **extra,
        }
