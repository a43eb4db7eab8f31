"""Game of 24 examples for the Tree-of-Thoughts roles (family 4), labelled by an exact solver.

Prompts are rendered by the task itself (:mod:`search.tasks.game24`) and kept raw
(``{"prompt", "completion"}``, no chat template), so the model trains on the exact text the
search sends to ``Model.complete``:

* *propose*: a state's numbers -> one move that keeps 24 reachable (the paper's
  ``a op b = c (left: ...)`` format), as the task's default ``style="sample"`` asks for one move
  per sample; a state gets up to two examples with different good moves;
* *value*: the numbers left -> `` sure`` (solvable) or `` impossible`` with the task's short prompt
  (``value_grammar=True``, its default); *value_paper*: the paper's prompt -> the paper's
  reasoning lines, then the label;
* *answer*: the three moves -> `` (...) = 24`` (what follows ``Answer:``), and *judge*: an answer
  -> sure/impossible.

Puzzles come from ``24-dev.csv`` only, and two held-out splits are never used for training
(:func:`split_puzzles`): ``dev``, the last ``DEV_PUZZLES`` rows (the hardest puzzles), and ``near``, the
puzzles ranked next to the ToT paper's test range (ranks 901-1000, which ``24-dev.csv`` leaves out).
"""

from __future__ import annotations

import csv
import functools
import itertools
import logging
import random
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

from examples.recipes.traces import raw_record
from search import State
from search.tasks import fill
from search.tasks import game24_prompts as prompts
from search.tasks.arith import OPS, show
from search.tasks.game24 import Game24, compose, validate
from search.tasks.game24_rules import MOVE, legal_moves

log = logging.getLogger(__name__)

DEV_PUZZLES = 100  # the last rows of 24-dev.csv: held out from every training example
# ranks on both sides of the paper's test range 901-1000: a held-out split as hard as the test
NEAR_RANKS = ((851, 900), (1001, 1050))
Nums = tuple[Fraction, ...]


def load_puzzles(path: str | Path) -> tuple[list[str], list[str]]:
    """(header + rows as CSV lines, the ``Puzzles`` column) of ``24-dev.csv``."""
    text = Path(path).read_text(encoding="utf-8").splitlines()
    rows = list(csv.DictReader(text))
    if not rows or "Puzzles" not in rows[0]:
        raise ValueError(f"{path}: expected a CSV with a 'Puzzles' column")
    return text, [r["Puzzles"].strip() for r in rows]


def split_puzzles(lines: list[str], n_dev: int = DEV_PUZZLES) -> dict[str, list[str]]:
    """The CSV rows (header not included) of each split of ``24-dev.csv``: ``dev`` (the last ``n_dev``
    rows), ``near`` (ranks in :data:`NEAR_RANKS`; none when the file has no ``Rank`` column) and
    ``train`` (the rest)."""
    header, rows = lines[0], [line for line in lines[1:] if line.strip()]
    records = list(csv.DictReader([header, *rows]))
    dev = set(range(len(rows) - n_dev, len(rows))) if n_dev else set()

    def near(rec: dict[str, str]) -> bool:
        rank = (rec.get("Rank") or "").strip()
        return rank.isdigit() and any(lo <= int(rank) <= hi for lo, hi in NEAR_RANKS)

    near_rows = {i for i, rec in enumerate(records) if i not in dev and near(rec)}
    return {
        "train": [row for i, row in enumerate(rows) if i not in dev and i not in near_rows],
        "dev": [rows[i] for i in sorted(dev)],
        "near": [rows[i] for i in sorted(near_rows)],
    }


def puzzle_column(header: str, rows: list[str]) -> list[str]:
    """The ``Puzzles`` column of CSV ``rows`` under ``header``."""
    return [rec["Puzzles"].strip() for rec in csv.DictReader([header, *rows])]


def puzzles_of(path: str | Path, split: str = "train", n_dev: int = DEV_PUZZLES) -> list[str]:
    """The ``Puzzles`` column of one split (``train``, ``dev`` or ``near``) of ``24-dev.csv``."""
    lines, _ = load_puzzles(path)
    return puzzle_column(lines[0], split_puzzles(lines, n_dev)[split])


def key(numbers: list[Fraction] | Nums) -> Nums:
    """A state's numbers in canonical (sorted) order."""
    return tuple(sorted(numbers))


@functools.cache
def _legal_moves(numbers: Nums) -> tuple[tuple[str, Fraction, str, Fraction, Nums], ...]:
    """Each legal move line of the task from ``numbers`` (:func:`~search.tasks.game24_rules.legal_moves`: no
    negative differences, each distinct line once), its exact operands and the numbers it leaves (sorted)."""
    return tuple((line, *_move_of(numbers, line)) for line in legal_moves(list(numbers)))


def _move_of(numbers: Nums, line: str) -> tuple[Fraction, str, Fraction, Nums]:
    """The exact (a, op, b, numbers left) that ``line`` writes: of the operands that show as written and give the
    written result, the last pair (two numbers can show alike: 1/12 and 1/13 are both ``0.08``)."""
    a, op, b, c = MOVE.match(line).group(1, 2, 3, 4)
    found = None
    for i, j in itertools.permutations(range(len(numbers)), 2):
        x, y = numbers[i], numbers[j]
        if show(x) == a and show(y) == b and not (op == "/" and y == 0) and show(OPS[op](x, y)) == c:
            found = (x, op, y, key([*(n for k, n in enumerate(numbers) if k not in (i, j)), OPS[op](x, y)]))
    if found is None:
        raise ValueError(f"{line!r} is not a move from {numbers}")
    return found


def moves(numbers: Nums) -> list[tuple[Fraction, str, Fraction, Nums]]:
    """(a, op, b, numbers left) for each legal move of the task, exact."""
    return [(x, op, y, left) for _, x, op, y, left in _legal_moves(numbers)]


def _legal(numbers: Nums) -> list[tuple[str, Nums]]:
    """The task's legal move lines from ``numbers`` with the exact numbers each leaves."""
    return [(line, left) for line, *_, left in _legal_moves(numbers)]


@functools.cache
def solvable(numbers: Nums) -> bool:
    """Whether ``numbers`` (sorted) can reach exactly 24 with legal moves."""
    if len(numbers) == 1:
        return numbers[0] == 24
    return any(solvable(left) for *_, left in _legal_moves(numbers))


def propose_prompt(numbers: Nums) -> str:
    """The task's propose prompt for these numbers (as ``Game24._propose_query`` renders it; no public builder)."""
    return fill(prompts.PROPOSE, numbers=" ".join(show(x) for x in numbers))


def good_moves(numbers: Nums, rng: random.Random) -> list[str]:
    """The legal moves that keep 24 reachable, shuffled."""
    good = [line for line, left in _legal(numbers) if solvable(left)]
    rng.shuffle(good)
    return good


def _expr(numbers: Nums, path: list[tuple[Fraction, str, Fraction, Nums]]) -> tuple[str, str]:
    """The expression of a two-move path over three numbers, and the same with its first move done."""
    (a, op1, b, _), (c, op2, d, _) = path
    first = f"({show(a)} {op1} {show(b)})"
    r = OPS[op1](a, b)
    full = f"{first} {op2} {show(d)}" if c == r else f"{show(c)} {op2} {first}"
    return full, f"{show(c)} {op2} {show(d)}"


def value_reasoning(numbers: Nums, rng: random.Random) -> list[str]:
    """The paper's reasoning lines before the label: tries, ending with the one that works if any."""
    if len(numbers) == 1:
        return [f"{show(numbers[0])} = 24" if numbers[0] == 24 else f"{show(numbers[0])} is not 24"]
    if len(numbers) == 2:
        lo, hi = numbers
        tries = [(hi, "+", lo), (hi, "-", lo), (hi, "*", lo)] + ([(hi, "/", lo)] if lo else [])
        lines = [f"{show(x)} {op} {show(y)} = {show(OPS[op](x, y))}" for x, op, y in tries]
        wins = [ln for ln, (x, op, y) in zip(lines, tries) if OPS[op](x, y) == 24]
        return wins[:1] if wins else lines
    paths = [[m1, m2] for m1 in moves(numbers) for m2 in moves(m1[3])]
    rng.shuffle(paths)
    wins = [p for p in paths if p[1][3][0] == 24]
    misses = [p for p in paths if p[1][3][0] != 24 and _exact(OPS[p[0][1]](p[0][0], p[0][2])) and _exact(p[1][3][0])]
    lines = []
    for p in misses[: rng.randint(1, 2) if wins else 3] + wins[:1]:
        full, half = _expr(numbers, p)
        middle = OPS[p[0][1]](p[0][0], p[0][2])
        lines.append(f"{full} = {half} = {show(p[1][3][0])}" if _exact(middle) else f"{full} = {show(p[1][3][0])}")
    return lines


def _exact(x: Fraction) -> bool:
    """Whether ``show`` writes ``x`` exactly (at most two decimals): rounded middles would read as wrong sums."""
    return (x * 100).denominator == 1


def value_completion(numbers: Nums, rng: random.Random, reasoning: bool) -> str:
    label = "sure" if solvable(numbers) else "impossible"
    return "\n".join([*value_reasoning(numbers, rng), label]) if reasoning else label


def _state(puzzle: str, steps: list[str]) -> State:
    return State(puzzle, tuple(steps))


def _random_path(numbers: Nums, rng: random.Random) -> list[tuple[str, Nums]]:
    """Three random legal moves: (line, numbers left) after each."""
    path = []
    while len(numbers) > 1:
        line, numbers = rng.choice(_legal(numbers))
        path.append((line, numbers))
    return path


def _winning_path(numbers: Nums, rng: random.Random) -> list[tuple[str, Nums]]:
    """Three moves that reach 24, chosen at random among the winning ones; [] when there are none."""
    path = []
    while len(numbers) > 1:
        good = [(line, left) for line, left in _legal(numbers) if solvable(left)]
        if not good:
            return []
        line, numbers = rng.choice(good)
        path.append((line, numbers))
    return path


def puzzle_examples(puzzle: str, rng: random.Random, task: Game24) -> list[tuple[str, dict[str, Any]]]:
    """(kind, raw record) examples for one training puzzle."""
    puzzle = task.initial_state(puzzle).question
    root = key([Fraction(x) for x in puzzle.split()])
    out: list[tuple[str, dict[str, Any]]] = []
    paths = [p for p in [_winning_path(root, rng) for _ in range(2)] + [_random_path(root, rng) for _ in range(2)] if p]
    for path in paths:
        states = [root] + [nums for _, nums in path]
        for nums in states[:3]:
            for move in good_moves(nums, rng)[:2]:
                out.append(("propose", raw_record(propose_prompt(nums), move + "\n")))
        steps = [line for line, _ in path]
        answer = f"Answer: {compose(_state(puzzle, steps))} = 24"
        if states[-1] == (24,):
            prompt = fill(prompts.LAST_STEP, puzzle=puzzle, steps="\n".join(steps))
            out.append(("answer", raw_record(prompt, answer.removeprefix("Answer:"))))
        judge = task.value_prompt(_state(puzzle, [*steps, answer])).prompt
        out.append(("judge", raw_record(judge, "sure" if validate(puzzle, answer) else "impossible")))
    return out


def reachable_states(puzzles: list[str], task: Game24) -> dict[Nums, State]:
    """Every state one or two moves from these puzzles, each with a path that reaches it."""
    found: dict[Nums, State] = {}
    for puzzle in puzzles:
        root = task.initial_state(puzzle)
        frontier = [(key(task.numbers(root)), root)]
        for _ in range(2):
            frontier = [(left, state.then(line)) for nums, state in frontier for line, left in _legal(nums)]
            for left, state in frontier:
                found.setdefault(left, state)
    return found


def value_examples(
    puzzles: list[str], rng: random.Random, task: Game24, negatives: float = 1.0
) -> dict[str, list[dict[str, Any]]]:
    """Value examples over the distinct states reachable from ``puzzles``: every solvable one and
    ``negatives`` times as many unsolvable ones of each size. Each state twice: ``value``, the task's short prompt (``value_grammar``,
    its default) -> `` sure``; ``value_paper``, the paper's prompt -> reasoning lines, then ``sure``."""
    found = reachable_states(puzzles, task)
    chosen: list[tuple[Nums, State]] = []
    for size in (3, 2):
        sure = [(n, s) for n, s in found.items() if len(n) == size and solvable(n)]
        impossible = [(n, s) for n, s in found.items() if len(n) == size and not solvable(n)]
        chosen += sure + rng.sample(impossible, min(round(negatives * len(sure)), len(impossible)))
    twos = [(n, s) for n, s in found.items() if len(n) == 2]
    for nums, state in rng.sample(twos, min(100, len(twos))):  # a last move that misses 24, and one that hits it
        for line, left in _legal(nums):
            if left == (24,) or rng.random() < 0.1:
                chosen.append((left, state.then(line)))
    chosen = list(dict(chosen).items())  # one path per state
    rng.shuffle(chosen)
    short, full = Game24(value_grammar=True), Game24(value_grammar=False)
    return {
        "value": [
            raw_record(short.value_prompt(state).prompt, " " + value_completion(nums, rng, reasoning=False))
            for nums, state in chosen
        ],
        "value_paper": [
            raw_record(full.value_prompt(state).prompt, value_completion(nums, rng, reasoning=True))
            for nums, state in chosen
        ],
    }


def value_all(
    puzzles: list[str], rng: random.Random, positive_repeat: int = 2, last_negatives: int = 1000
) -> list[dict[str, Any]]:
    """Short-prompt value examples over *every* state the search judges below ``puzzles``: each distinct
    3- and 2-number state once (solvable ones ``positive_repeat`` times), plus the one-number states: ``24``
    (``sure``) as often as there are two-number solvable states, and ``last_negatives`` other numbers.

    With every legal move proposed (``--proposer rules``), these are exactly the states a search over a
    training puzzle meets; most states of other puzzles are among them (``bench/game24_bounds.py --overlap``).
    """
    task = Game24()
    found = reachable_states(puzzles, task)
    records: list[dict[str, Any]] = []
    last: dict[Nums, State] = {}
    for nums, state in found.items():
        label = "sure" if solvable(nums) else "impossible"
        copies = positive_repeat if label == "sure" else 1
        records += [raw_record(task.value_prompt(state).prompt, " " + label)] * copies
        if len(nums) == 2:
            for line, left in _legal(nums):
                last.setdefault(left, state.then(line))
    wins = sum(1 for nums in found if len(nums) == 2 and solvable(nums))
    misses = [s for n, s in last.items() if n != (24,)]
    chosen = [last[(24,)]] * max(1, wins) if (24,) in last else []
    chosen += rng.sample(misses, min(last_negatives, len(misses)))
    records += [
        raw_record(task.value_prompt(s).prompt, " " + ("sure" if task.numbers(s) == [24] else "impossible"))
        for s in chosen
    ]
    rng.shuffle(records)
    return records


def propose_examples(puzzles: list[str], rng: random.Random, per_state: int = 2) -> list[dict[str, Any]]:
    """Up to ``per_state`` winning moves from every puzzle and every solvable state reachable from one."""
    task = Game24()
    roots = {key([Fraction(x) for x in task.initial_state(p).question.split()]) for p in puzzles}
    states = sorted(roots) + sorted(n for n in reachable_states(puzzles, task) if len(n) > 1 and solvable(n))
    return [
        raw_record(propose_prompt(nums), move + "\n") for nums in states for move in good_moves(nums, rng)[:per_state]
    ]


def focus_mix(
    puzzles: list[str], seed: int = 0, negatives: float = 2.0, per_state: int = 2
) -> dict[str, list[dict[str, Any]]]:
    """kind -> raw records: ``value`` and ``propose`` over the training puzzles."""
    value = value_examples(puzzles, random.Random(seed), Game24(), negatives=negatives)["value"]
    return {"value": value, "propose": propose_examples(puzzles, random.Random(seed + 1), per_state)}


def game24_examples(puzzles: list[str], seed: int = 0) -> tuple[dict[str, list[dict[str, Any]]], Counter]:
    """Family 4 for these (training) puzzles: kind -> raw records; counts of labels.

    Propose, answer and judge examples follow two winning and two random paths per puzzle (each
    prompt once); value examples are balanced over all reachable states (see :func:`value_examples`).
    """
    task = Game24()
    by_kind: dict[str, list[dict[str, Any]]] = {"propose": [], "answer": [], "judge": []}
    seen: set[tuple[str, str]] = set()
    for n, puzzle in enumerate(puzzles):
        for kind, rec in puzzle_examples(puzzle, random.Random(seed * 100_003 + n), task):
            if (rec["prompt"], rec["completion"]) not in seen:
                seen.add((rec["prompt"], rec["completion"]))
                by_kind[kind].append(rec)
    by_kind.update(value_examples(puzzles, random.Random(seed), task))
    labels = Counter(
        f"{kind}:{rec['completion'].splitlines()[-1].strip()}" for kind in ("value", "judge") for rec in by_kind[kind]
    )
    log.info("game24: %s; labels %s", {k: len(v) for k, v in by_kind.items()}, dict(labels))
    return by_kind, labels
