"""The contract every task, evaluator and search algorithm shares.

:class:`State`, :class:`Query`, :class:`Task`, :class:`Validator`, :class:`Evaluation`,
:class:`Evaluator`, :class:`SearchConfig` and :class:`SearchResult`. Every module of
:mod:`search` imports them from here; :mod:`search` re-exports them. This module
imports nothing from :mod:`search`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import networkx as nx

from agent.core.model import Model


@dataclass(frozen=True)
class State:
    """A node of the search: the question and the steps taken so far.

    Attributes:
        question: the problem as the user gave it (for Game of 24: ``"4 9 10 13"``).
        steps: one string per step, in order; the last may be the answer line.
    """

    question: str
    steps: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The state as one readable block: the question, then one line per step."""
        return "\n".join((self.question, *self.steps))

    def then(self, step: str) -> State:
        """This state with ``step`` appended."""
        return State(self.question, (*self.steps, step))


@dataclass(frozen=True)
class Query:
    """One request to the model: a prompt and how to sample it.

    The prompt puts what is shared first and the state last, so that sibling nodes share
    their parent's prompt as a prefix and a caching backend reuses its KV cache.
    """

    prompt: str
    stop: tuple[str, ...] = ()
    grammar: str | None = None  # GBNF; a backend that cannot enforce one raises ModelError
    max_tokens: int = 64


@runtime_checkable
class Task(Protocol):
    """A search problem: what llm-reasoners splits into ``WorldModel`` and ``SearchConfig``.

    A task should also say who writes its candidate steps, as a ``proposer`` attribute:
    ``"model"`` (sampled from the model) or ``"rules"`` (listed by a program, as Game of 24's
    move generator). It is reported in ``stats["proposer"]``; a task without it is ``"unknown"``
    and its results are never labelled model-only.
    """

    name: str
    max_depth: int  # the most steps a solution takes (Game of 24: 3 moves and the answer)
    n_generate: int  # samples of the propose prompt per expansion when the caller gives none

    def initial_state(self, question: str) -> State:
        """The root state for ``question``."""
        ...

    def propose(self, model: Model, state: State, n: int, *, temperature: float, seed: int | None) -> list[str]:
        """Next steps from ``state``: ``n`` samples in one ``complete(n=...)`` call, malformed ones dropped."""
        ...

    def apply(self, state: State, step: str) -> State:
        """The state after taking ``step``."""
        ...

    def is_terminal(self, state: State) -> bool:
        """Whether ``state`` holds a final answer."""
        ...

    def answer(self, state: State) -> str | None:
        """The final answer of a terminal state, else ``None``."""
        ...

    def value_prompt(self, state: State) -> Query:
        """Ask the model to rate ``state`` as ``sure``/``likely``/``impossible`` (its last line)."""
        ...

    def vote_prompt(self, states: list[State]) -> Query:
        """Ask the model which of ``states`` (numbered from 1) is most promising."""
        ...


@runtime_checkable
class Validator(Protocol):
    """What a task may offer to *score* a finished run; never used to choose among candidates."""

    def validate(self, question: str, answer: str) -> bool: ...


@dataclass(frozen=True)
class Evaluation:
    """An evaluator's judgement of one state: a value (higher is better) and the raw outputs behind it."""

    value: float
    outputs: tuple[str, ...] = ()


@runtime_checkable
class Evaluator(Protocol):
    """Scores candidate states; implementations cache so a state is never judged twice.

    An evaluator should say who judges as a ``judge`` attribute: ``"model"`` (the model's own
    judgement) or ``"program"`` (a verifier). It is reported in ``stats["judge"]``.
    """

    name: str
    max_value: float  # the best possible value, to normalise rewards into [0, 1]

    def evaluate(self, model: Model, task: Task, states: list[State]) -> list[Evaluation]: ...


@dataclass(frozen=True)
class SearchConfig:
    """How a search spends its budget. Every algorithm reads the fields it needs."""

    beam: int = 5  # BFS: states kept per level (the paper's b)
    n_generate: int | None = None  # samples of the propose prompt per expansion; None: the task's default
    n_evaluate: int = 3  # samples per value prompt, or votes per vote prompt (the paper: 3)
    max_depth: int | None = None  # None: the task's max_depth
    temperature: float = 0.7  # sampling temperature for proposals and evaluations (the paper: 0.7)
    seed: int = 0  # each model call gets seed + its call number: a run is repeatable
    selection: str = "greedy"  # BFS: "greedy" keeps the b best; "sample" draws b in proportion to value
    value_threshold: float = 1.0  # DFS: children valued below this are pruned (20/1/0.001 scale: 1 = one "likely")
    max_nodes: int = 200  # DFS and MCTS: stop growing the tree after this many nodes
    iterations: int = 10  # MCTS: select/expand/simulate/back-propagate rounds
    exploration: float = 1.0  # MCTS: the UCT exploration weight w in Q + w * sqrt(ln N / n)


@dataclass(frozen=True)
class SearchResult:
    """What a search returns.

    Attributes:
        answer: the answer of the chosen terminal state, or ``None`` when none was reached.
        best_path: the steps from the root to the chosen state.
        tree: every node (state text, depth, value, evaluator outputs, tokens) and edge (step).
        stats: ``nodes``, ``model_calls``, ``prompt_tokens``, ``completion_tokens``, ``seconds``,
            ``evaluator`` (what judged the states), ``algorithm``, ``cache_hits`` and more.

    Write the tree with :func:`search.tree.save` (``.html``, ``.json`` or ``.graphml``).
    """

    answer: str | None
    best_path: list[str]
    tree: nx.DiGraph
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (without the tree)."""
        return {"answer": self.answer, "best_path": list(self.best_path), "stats": dict(self.stats)}


EvaluatorSpec = str | Evaluator | Callable[[str, State], float]

PROPOSERS = ("model", "rules")  # who wrote the candidate steps: the model sampled them, or a program listed them
JUDGES = ("model", "program")  # who ranked them: the model's own judgement, or a program (a verifier, a check)


def check_role(role: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else a ValueError naming the role."""
    if value not in allowed:
        raise ValueError(f"{role} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def provenance(task: object, evaluator: object) -> dict[str, Any]:
    """Who proposed and who judged a search: ``proposer``, ``judge`` and ``model_only``.

    A task says who proposes with a ``proposer`` attribute (``"model"`` or ``"rules"``), an
    evaluator who judges with ``judge`` (``"model"`` or ``"program"``). One that says nothing
    is reported as ``"unknown"``. ``model_only`` is true only when the model did both.
    """
    proposer = getattr(task, "proposer", "unknown")
    judge = getattr(evaluator, "judge", "unknown")
    return {"proposer": proposer, "judge": judge, "model_only": proposer == "model" and judge == "model"}

__all__ = [
    "JUDGES",
    "PROPOSERS",
    "Evaluation",
    "Evaluator",
    "EvaluatorSpec",
    "Query",
    "SearchConfig",
    "SearchResult",
    "State",
    "Task",
    "Validator",
    "check_role",
    "provenance",
]
