"""How varied a set of questions is, and how much of a dev set it already contains.

- :func:`shape`: a question with its numbers, names and entity words replaced by placeholders; the
  number of distinct shapes a family produces is its count of *frames*.
- :func:`overlap`: the share of a dev set's word n-grams that occur in the training questions
  (numbers written as ``#``), and the share of dev questions with any shared 8-gram.

``python -m examples.recipes.diversity`` prints both for the old families
(:mod:`examples.recipes.tool_problems`) and the varied ones (:mod:`examples.recipes.varied_problems`)
against the hand-written dev set (``bench/data/offtemplate_tools.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from examples.recipes import tool_problems, varied_problems
from examples.recipes.traces import Problem

DEV = Path(__file__).resolve().parents[2] / "bench" / "data" / "offtemplate_tools.jsonl"
_NUMBER = re.compile(r"\$?\d[\d,]*(?:\.\d+)?")
_WORD = re.compile(r"[a-z#']+")


def _vocabulary() -> set[str]:
    words = set(varied_problems.ITEMS) | {
        w for pair in varied_problems.CONTAINERS + varied_problems.PEOPLE for w in pair
    }
    words |= {w for group in tool_problems._GROUPS for w in group} | {
        w.split()[-1] for *_, w, _ in tool_problems._STOCK
    }
    return {w.lower() for w in words}


_VOCAB = _vocabulary()
_NAMES = {n.lower() for n in varied_problems.NAMES}


def words(question: str) -> list[str]:
    return _WORD.findall(_NUMBER.sub("#", question.lower()))


def shape(question: str) -> str:
    """The question's frame: numbers -> #, names -> NAME, entity words -> X."""
    return " ".join("NAME" if w in _NAMES else "X" if w in _VOCAB else w for w in words(question))


def ngrams(question: str, n: int) -> set[tuple[str, ...]]:
    w = words(question)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def overlap(dev: list[str], train: Iterable[str], n: int) -> tuple[float, float]:
    """(share of the dev set's n-grams seen in training, share of dev questions sharing any n-gram)."""
    seen: set[tuple[str, ...]] = set()
    for question in train:
        seen |= ngrams(question, n)
    grams = [ngrams(q, n) for q in dev]
    total = sum(len(g) for g in grams) or 1
    return sum(len(g & seen) for g in grams) / total, sum(bool(g & seen) for g in grams) / max(1, len(dev))


def sample(families: dict[str, Callable[[random.Random], Problem]], per_family: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {name: [make(rng).question for _ in range(per_family)] for name, make in families.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-family", type=int, default=2000)
    ap.add_argument("--dev", type=Path, default=DEV)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    dev = [json.loads(line)["question"] for line in args.dev.read_text().splitlines() if line.strip()]
    print(
        f"| generator | families | frames per family (median, min-max) | dev 4-gram overlap | dev 8-gram: questions sharing one |  ({args.per_family} questions a family, dev: {len(dev)})"
    )
    print("|---|---|---|---|---|")
    varied = varied_problems.FAMILIES
    groups = (
        ("old calculator families (tool_problems)", tool_problems.CALCULATOR_FAMILIES),
        ("varied trained families (varied_problems)", {k: v for k, v in varied.items() if k.startswith("v_")}),
        ("old python families (text_problems)", tool_problems.PYTHON_FAMILIES),
        ("program-fallback kinds (program_problems)", {k: v for k, v in varied.items() if k.startswith("p_")}),
    )
    for label, families in groups:
        questions = sample(families, args.per_family, args.seed)
        frames = sorted(len({shape(q) for q in qs}) for qs in questions.values())
        train = [q for qs in questions.values() for q in qs]
        four, _ = overlap(dev, train, 4)
        _, eight = overlap(dev, train, 8)
        median = frames[len(frames) // 2]
        print(f"| {label} | {len(frames)} | {median} ({frames[0]}-{frames[-1]}) | {four:.1%} | {eight:.1%} |")


if __name__ == "__main__":
    main()
