"""Exact arithmetic on model-written expressions, without ``eval``.

Expressions are parsed with :mod:`ast` and only numbers, ``+ - * /``, unary minus and
parentheses are accepted; values are :class:`fractions.Fraction`, so ``8 / 3 * 3`` is 8.
"""

from __future__ import annotations

import ast
import operator
from fractions import Fraction

MAX_EXPRESSION_CHARS = 200  # longer "expressions" are model rambling, not arithmetic
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def normalise(expr: str) -> str:
    """Unicode operators to ASCII (``×`` to ``*``, ``÷`` to ``/``, ``−`` to ``-``)."""
    return expr.replace("×", "*").replace("÷", "/").replace("−", "-").replace("x", "*").strip()


def parse(expr: str) -> ast.expr:
    """The syntax tree of an arithmetic expression.

    Raises:
        ValueError: not an arithmetic expression of numbers, ``+ - * /`` and parentheses.
    """
    expr = normalise(expr)
    if not expr or len(expr) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"not an arithmetic expression: {expr[:40]!r}")
    try:
        tree = ast.parse(expr, mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"not an arithmetic expression: {expr!r}") from err
    for node in ast.walk(tree):
        ok = isinstance(node, (ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)) or (
            isinstance(node, ast.Constant) and type(node.value) in (int, float)
        )
        if (
            not ok
            or (isinstance(node, ast.BinOp) and type(node.op) not in _BINARY)
            or (isinstance(node, ast.UnaryOp) and type(node.op) not in _UNARY)
        ):
            raise ValueError(f"{expr!r}: only numbers, + - * / and parentheses are allowed")
    return tree


def _value(node: ast.expr) -> Fraction:
    if isinstance(node, ast.Constant):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_value(node.operand))
    left, right = _value(node.left), _value(node.right)
    if isinstance(node.op, ast.Div) and right == 0:
        raise ValueError("division by zero")
    return _BINARY[type(node.op)](left, right)


def evaluate(expr: str) -> Fraction:
    """The exact value of ``expr``.

    Raises:
        ValueError: not an arithmetic expression, or a division by zero.

    Example:
        >>> evaluate("(10 - 4) * (13 - 9)")
        Fraction(24, 1)
    """
    return _value(parse(expr))


def numbers_in(expr: str) -> list[Fraction]:
    """The numbers written in ``expr``, in order."""
    return [Fraction(str(n.value)) for n in ast.walk(parse(expr)) if isinstance(n, ast.Constant)]


def show(x: Fraction) -> str:
    """A number as the model reads it: ``7``, ``-3``, ``2.67`` (two decimals at most)."""
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.2f}".rstrip("0").rstrip(".")


def close(a: Fraction, b: Fraction) -> bool:
    """Equal up to the two-decimal rounding of :func:`show`."""
    return abs(a - b) < Fraction(6, 1000)
