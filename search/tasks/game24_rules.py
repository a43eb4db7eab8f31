"""The rules of the Game of 24: legal moves in the paper's format, and correct answers.

A move is ``a op b = c (left: x y z)``: two of the numbers left are combined, and ``left``
lists what remains. Numbers are exact fractions, shown with at most two decimals.
"""

from __future__ import annotations

import itertools
import re
from fractions import Fraction

from search.contract import State
from search.tasks.arith import OPS, close, evaluate, numbers_in, show

NUM = r"-?\d+(?:\.\d+)?"
MOVE = re.compile(rf"^\s*({NUM})\s*([-+*/×÷x])\s*({NUM})\s*=\s*({NUM})\s*\(left:\s*([^)]*)\)\s*$")


def puzzle_numbers(puzzle: str) -> list[Fraction]:
    """The numbers of a puzzle such as ``"4 9 10 13"``."""
    return [Fraction(x) for x in re.findall(r"\d+", puzzle)]


def validate(puzzle: str, expr: str) -> bool:
    """Whether ``expr`` uses each number of ``puzzle`` exactly once and equals 24 exactly.

    Accepts ``"Answer: ... = 24"`` as well as the bare expression. Parsed with an ``ast``
    whitelist, never ``eval``.

    Example:
        >>> validate("4 9 10 13", "(10 - 4) * (13 - 9)")
        True
    """
    expr = re.sub(r"^\s*answer:\s*", "", expr or "", flags=re.IGNORECASE).split("=")[0]
    try:
        used, value = numbers_in(expr), evaluate(expr)
    except ValueError:
        return False
    return sorted(used) == sorted(puzzle_numbers(puzzle)) and all(x.denominator == 1 for x in used) and value == 24


def parse_move(numbers: list[Fraction], line: str) -> tuple[str, list[Fraction]] | None:
    """The canonical form of a move and the numbers it leaves, or ``None`` for an illegal line."""
    m = MOVE.match(line.replace("×", "*").replace("÷", "/"))
    if not m:
        return None
    a, op, b, c, left = m.groups()
    op = "*" if op == "x" else op
    rest = list(numbers)
    operands = []
    for written in (a, b):
        hit = next((x for x in rest if close(x, Fraction(written))), None)
        if hit is None:
            return None  # uses a number that is not left
        rest.remove(hit)
        operands.append(hit)
    if op == "/" and operands[1] == 0:
        return None
    result = OPS[op](*operands)
    written_left = [Fraction(x) for x in re.findall(NUM, left)]
    expected = sorted([*rest, result])
    if (
        not close(result, Fraction(c))
        or len(written_left) != len(expected)
        or not all(close(x, y) for x, y in zip(sorted(written_left), expected))
    ):
        return None  # wrong arithmetic or wrong list of numbers left
    return f"{show(operands[0])} {op} {show(operands[1])} = {show(result)} (left: {show_all(expected)})", expected


def show_all(numbers: list[Fraction]) -> str:
    """Numbers in ascending order, as the ``left:`` list shows them."""
    return " ".join(show(x) for x in sorted(numbers))


def legal_moves(numbers: list[Fraction]) -> list[str]:
    """Every legal move from ``numbers`` in the paper's format (subtraction never goes negative)."""
    moves: dict[str, None] = {}
    for i, j in itertools.combinations(range(len(numbers)), 2):
        a, b = max(numbers[i], numbers[j]), min(numbers[i], numbers[j])
        rest = [x for k, x in enumerate(numbers) if k not in (i, j)]
        pairs = [(a, "+", b), (a, "*", b), (a, "-", b), (a, "/", b), (b, "/", a)]
        for x, op, y in pairs:
            if op == "/" and y == 0:
                continue
            result = OPS[op](x, y)
            moves[f"{show(x)} {op} {show(y)} = {show(result)} (left: {show_all([*rest, result])})"] = None
    return list(moves)


def compose(state: State) -> str:
    """The expression the moves of ``state`` build (bookkeeping: no model, no search)."""
    exprs = [(x, show(x)) for x in puzzle_numbers(state.question)]
    for step in state.steps:
        m = MOVE.match(step)
        if not m:
            continue
        a, op, b = m.group(1), m.group(2), m.group(3)
        first = next(e for e in exprs if close(e[0], Fraction(a)))
        exprs.remove(first)
        second = next(e for e in exprs if close(e[0], Fraction(b)))
        exprs.remove(second)
        exprs.append((OPS[op](first[0], second[0]), f"({first[1]} {op} {second[1]})"))
    text = exprs[0][1] if len(exprs) == 1 else " ".join(e[1] for e in exprs)
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text
