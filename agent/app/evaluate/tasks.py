"""The evaluation tasks: GSM8K, Game of 24 and free question answering.

Each task reads its data file into :class:`~agent.app.evaluate.Item` s and scores an answer:

- ``gsm8k``: JSONL ``{"question", "answer"}``, the answer ending in ``#### N``; correct when the
  last number of the prediction equals ``N`` exactly (as fractions, ``,`` and ``$`` stripped).
- ``game24``: the CSV of the Tree-of-Thoughts paper (column ``Puzzles``); correct when the
  predicted expression uses the four numbers once each and is exactly 24 (the search's validator).
- ``qa``: JSONL ``{"question", "answer"}``; a numeric gold answer is matched like GSM8K, a text one
  by its words (lower case, punctuation and articles dropped).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from agent.app.evaluate.types import EvalTask, Item
from agent.core.answers import NUMBER, match_answer
from agent.core.jsonl import read_jsonl


def validate_game24(puzzle: str, answer: str | None) -> bool:
    """Whether ``answer`` solves ``puzzle``: its numbers once each, exactly 24.

    The last line of ``answer`` is checked with the search's own validator
    (:func:`search.tasks.game24.validate`: ``ast`` whitelist, fractions), so that the search
    and the harness score a Game of 24 answer the same way.
    """
    from search.tasks.game24 import validate

    lines = [line for line in (answer or "").splitlines() if line.strip()]
    return bool(lines) and validate(puzzle, lines[-1].strip().rstrip("."))


def _qa_records(path: str | Path, gold_of) -> list[Item]:
    items = []
    for n, rec in enumerate(read_jsonl(path), 1):
        question, answer = rec.get("question"), rec.get("answer")
        if not isinstance(question, str) or answer is None:
            raise ValueError(f"{path}: record {n} needs a 'question' string and an 'answer'")
        items.append(Item(len(items), question, gold_of(str(answer), path, n)))
    return items


def _gsm8k_gold(answer: str, path: str | Path, n: int) -> str:
    _, sep, gold = answer.rpartition("####")
    if not sep or not gold.strip():
        raise ValueError(f"{path}: record {n} has no '#### N' final line in its answer")
    return gold.strip().replace(",", "")


@dataclass(frozen=True)
class GSM8K:
    """Grade-school math word problems, scored on the final number."""

    name: str = "gsm8k"
    default_strategy: str = "react"
    search_task: str = "gsm8k"

    def load(self, path: str | Path) -> list[Item]:
        return _qa_records(path, _gsm8k_gold)

    def prompt(self, item: Item) -> str:
        return item.question

    def check(self, item: Item, answer: str | None) -> bool:
        return match_answer(answer, item.gold or "")


@dataclass(frozen=True)
class QA:
    """Free questions with a short gold answer (a number or a few words)."""

    name: str = "qa"
    default_strategy: str = "react"
    search_task: str = "generic"

    def load(self, path: str | Path) -> list[Item]:
        return _qa_records(path, lambda answer, path, n: answer.strip())

    def prompt(self, item: Item) -> str:
        return item.question

    def check(self, item: Item, answer: str | None) -> bool:
        return match_answer(answer, item.gold or "")


@dataclass(frozen=True)
class Game24:
    """Game of 24: make 24 from four numbers with + - * / (the Tree-of-Thoughts benchmark)."""

    name: str = "game24"
    default_strategy: str = "tot"
    search_task: str = "game24"

    def load(self, path: str | Path) -> list[Item]:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if "Puzzles" not in (reader.fieldnames or []):
                raise ValueError(f"{path}: no 'Puzzles' column (found {', '.join(reader.fieldnames or [])})")
            items = []
            for line, row in enumerate(reader, 2):
                numbers = NUMBER.findall(row["Puzzles"] or "")
                if len(numbers) != 4:
                    raise ValueError(f"{path}: line {line} does not hold four numbers: {row['Puzzles']!r}")
                items.append(Item(len(items), " ".join(numbers)))
        return items

    def prompt(self, item: Item) -> str:
        return (
            f"Use the numbers {item.question}, each exactly once, with + - * / and parentheses to make 24. "
            "Give the expression as the answer, for example (4 + 8) * (6 - 4) = 24."
        )

    def check(self, item: Item, answer: str | None) -> bool:
        return validate_game24(item.question, answer)


TASKS: dict[str, EvalTask] = {t.name: t for t in (GSM8K(), Game24(), QA())}


def get_task(name: str) -> EvalTask:
    """A task by name; an unknown one raises ``ValueError`` listing the known ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]
