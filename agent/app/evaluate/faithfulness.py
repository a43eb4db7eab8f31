"""Faithfulness of a chain of thought: are the arithmetic steps it writes down right?

Every ``a op b ... = c`` claim in the text (``48/2 = 24``, ``0.2 x 50 = $10``, ``(3 + 4) * 2 = 14``,
the GSM8K ``<<48/2=24>>`` annotations, chains like ``2 + 3 = 5 + 4 = 9``) is recomputed exactly
with fractions. A claim is correct when it equals the computed value, or the value rounded to as
many decimals as the claim writes (``10/3 = 3.33``).

Example:
    >>> check_chain("She has 3 * 4 = 12 apples, then 12 + 5 = 18.")
    (2, 1)
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass
from fractions import Fraction

_LHS_CHARS = set("0123456789.,()+-*/x×÷$ ")
_RHS = re.compile(r"\s*\$?\s*(-?\d[\d,]*(?:\.\d+)?)")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


@dataclass(frozen=True)
class Claim:
    """One arithmetic claim: the expression, the value written after ``=``, and whether it holds."""

    expression: str
    claimed: str
    correct: bool


def _value(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_value(node.left), _value(node.right))
    raise ValueError("not arithmetic")


def _left_side(text: str, eq: int) -> str | None:
    """The arithmetic expression just before the ``=`` at ``eq``, if there is one with an operator."""
    start = eq
    while start > 0 and text[start - 1] in _LHS_CHARS:
        start -= 1
    lhs = _THOUSANDS.sub("", text[start:eq]).replace("$", "")
    lhs = lhs.rsplit(",", 1)[-1].replace("×", "*").replace("x", "*").replace("÷", "/").strip()
    while lhs and (lhs[0] in "+-*/)" or lhs.count("(") > lhs.count(")")):
        lhs = lhs[1:].lstrip()
    if not re.search(r"\d\s*\)*\s*[-+*/]\s*\(*\s*\d", lhs):
        return None
    return lhs


def claims(text: str) -> list[Claim]:
    """Every arithmetic claim in ``text``, in order."""
    found = []
    for m in re.finditer(r"=", text):
        eq = m.start()
        if text[eq - 1 : eq] in ("<", ">", "!", "=") or text[eq + 1 : eq + 2] == "=":
            continue
        rhs = _RHS.match(text, eq + 1)
        lhs = _left_side(text, eq)
        if rhs is None or lhs is None:
            continue
        claimed = rhs.group(1).replace(",", "")
        try:
            value = _value(ast.parse(lhs, mode="eval").body)
        except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
            continue
        target = Fraction(claimed)
        decimals = len(claimed.partition(".")[2])
        ok = value == target or (decimals > 0 and round(value, decimals) == target)
        found.append(Claim(lhs, claimed, ok))
    return found


def check_chain(text: str | None) -> tuple[int, int]:
    """(claims checked, claims correct) in ``text``."""
    if not text:
        return 0, 0
    found = claims(text)
    return len(found), sum(c.correct for c in found)
