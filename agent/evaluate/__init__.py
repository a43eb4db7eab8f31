"""Evaluation harness: run a model and a strategy over a data set, item by item, and score it.

The contract: a *task* (:class:`EvalTask`: ``gsm8k``, ``game24``, ``qa``) loads :class:`Item` s from a
data file and checks a predicted answer; a *strategy* (``direct``, ``cot``, ``react``, ``sc``, ``tot``)
turns one item into an :class:`Outcome` with a model; the runner writes one JSON line per item as
it finishes (a rerun skips what is already there) and returns a :class:`Summary`.

Example:
    >>> from agent.backends.fake import ScriptedModel
    >>> from agent.evaluate import EvalConfig, Item, get_task, run_eval
    >>> items = [Item(0, "What is 6 times 7?", "42")]
    >>> model = ScriptedModel(["42"])
    >>> run_eval(get_task("qa"), items, model, EvalConfig("direct"), "/tmp/doc-eval.jsonl").n  # doctest: +SKIP
    1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, get_args, runtime_checkable

StrategyName = Literal["direct", "cot", "react", "sc", "tot"]
STRATEGIES: tuple[str, ...] = get_args(StrategyName)


@dataclass(frozen=True)
class Item:
    """One question of a data set.

    Attributes:
        index: its position in the data file (from 0); with ``question``, the key for resuming.
        question: the question as the data file gives it (Game of 24: the four numbers).
        gold: the reference answer, or ``None`` where a validator decides (Game of 24).
    """

    index: int
    question: str
    gold: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What a strategy made of one item.

    Attributes:
        answer: the predicted answer, or ``None`` when the model gave none.
        tokens: tokens generated (summed over samples and search calls).
        prompt_tokens: prompt tokens evaluated, where the strategy knows them.
        steps: ReAct steps or search path length; 1 for a single completion.
        chain: the reasoning text whose arithmetic is checked for faithfulness (``None``: not checked).
        trace: a JSON-ready record of the run (ReAct steps, the CoT text, the search path).
    """

    answer: str | None
    tokens: int = 0
    prompt_tokens: int = 0
    steps: int = 1
    chain: str | None = None
    trace: Any = None


@runtime_checkable
class EvalTask(Protocol):
    """A data set: how to read it, how to pose an item to a model, how to score an answer."""

    name: str
    default_strategy: str  # used when --strategy is not given
    search_task: str  # the task name ``search.solve`` knows (``game24``, ``gsm8k``, ``generic``)

    def load(self, path: str | Path) -> list[Item]:
        """All items of ``path``; a malformed file raises ``ValueError`` naming file and line."""
        ...

    def prompt(self, item: Item) -> str:
        """The question as the model reads it (Game of 24 adds the rules to the numbers)."""
        ...

    def check(self, item: Item, answer: str | None) -> bool:
        """Whether ``answer`` is correct for ``item``."""
        ...


@dataclass(frozen=True)
class EvalConfig:
    """How to run a strategy. The CLI options map onto these fields."""

    strategy: str  # one of STRATEGIES
    samples: int = 5  # sc: trajectories per question, majority-voted
    max_steps: int = 8  # react and sc: the most ReAct steps
    temperature: float | None = None  # None: 0 (greedy), or 0.7 for sc
    seed: int = 0  # every item gets seed + its index, so a rerun of one item is repeatable
    max_tokens: int = 384  # direct and cot: the longest completion
    algorithm: str = "bfs"  # tot: bfs, dfs or mcts
    beam: int | None = None  # tot: states kept per level (None: the task's, 10 for game24, else 5)
    evaluator: str | None = None  # tot: value, vote or logprob; None: the task's (logprob for game24)
    n_generate: int | None = None  # tot: proposal samples per expansion (None: the task's default, 8 for game24)
    proposer: str | None = None  # tot on game24: "model" or "rules" (every legal move); None: the task's default
    verifier: str | None = None  # sc: a model spec (or "default") whose scores weight the votes; None: majority vote

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if self.samples < 1:
            raise ValueError(f"samples must be at least 1, got {self.samples}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.n_generate is not None and self.n_generate < 1:
            raise ValueError(f"n_generate must be at least 1, got {self.n_generate}")
        if self.proposer not in (None, "model", "rules"):
            raise ValueError(f"proposer must be 'model' or 'rules', got {self.proposer!r}")

    def check(self, task: EvalTask) -> None:
        """Refuse options ``task`` cannot take.

        Raises:
            ValueError: a proposer for anything but a Game of 24 search; a verifier for anything but ``sc``.
        """
        if self.proposer is not None and (self.strategy != "tot" or task.search_task != "game24"):
            raise ValueError("--proposer is for --strategy tot on game24 (the only task with move rules)")
        if self.verifier is not None and self.strategy != "sc":
            raise ValueError("--verifier is for --strategy sc (it weights the votes of sampled trajectories)")

    @property
    def variant(self) -> str:
        """The strategy with its non-default options, e.g. ``tot(logprob, n_generate=16)``: how results are grouped."""
        defaults = EvalConfig(self.strategy)
        names = {
            "react": ("max_steps", "temperature"),
            "sc": ("samples", "verifier", "max_steps", "temperature"),
            "tot": ("algorithm", "evaluator", "proposer", "beam", "n_generate", "temperature"),
        }.get(self.strategy, ("max_tokens", "temperature"))
        parts = []
        for name in names:
            value = getattr(self, name)
            if value != getattr(defaults, name):
                if name in ("algorithm", "evaluator"):
                    parts.append(str(value))
                else:
                    parts.append(f"{name}={value}" if isinstance(value, str) else f"{name}={value:g}")
        return f"{self.strategy}({', '.join(parts)})" if parts else self.strategy


@dataclass(frozen=True)
class Summary:
    """The scores of one (task, model, strategy) run.

    Attributes:
        faithfulness: the share of arithmetic claims in the reasoning that are right when
            recomputed, over ``n_checked`` claims; ``None`` when nothing was checked.
    """

    task: str
    strategy: str
    model: str
    n: int
    correct: int
    tokens_per_item: float
    seconds_per_item: float
    faithfulness: float | None = None
    n_checked: int = 0
    out: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "strategy": self.strategy,
            "model": self.model,
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "tokens_per_item": round(self.tokens_per_item, 1),
            "seconds_per_item": round(self.seconds_per_item, 3),
            "faithfulness": None if self.faithfulness is None else round(self.faithfulness, 4),
            "n_checked": self.n_checked,
            "out": self.out,
            **self.extra,
        }


from agent.evaluate.report import summarize
from agent.evaluate.runner import run_eval
from agent.evaluate.tasks import TASKS, get_task

__all__ = [
    "STRATEGIES",
    "TASKS",
    "EvalConfig",
    "EvalTask",
    "Item",
    "Outcome",
    "StrategyName",
    "Summary",
    "get_task",
    "run_eval",
    "summarize",
]
