"""The evaluation contract: an :class:`Item` of a data set, an :class:`EvalTask` that loads and checks
items, and the :class:`Summary` of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


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
    roles: str = ""  # who proposed / who judged, e.g. "rules / model" (from the records' stats)

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
            "roles": self.roles,
            "out": self.out,
            **self.extra,
        }
