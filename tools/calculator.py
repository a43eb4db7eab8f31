"""The ``calculator`` tool: exact arithmetic over a whitelisted Python AST (no ``eval``).

Numbers are :class:`fractions.Fraction`, so ``0.1 + 0.2`` is exactly ``0.3``. Sizes are
estimated from bit lengths *before* a power or factorial is computed, so ``9**9**9**9`` is
refused at once instead of hanging the agent.

Example:
    >>> calculator(expression="4,817 x 3")
    '14451'
    >>> calculator(expression="10/3")
    '3.3333333333'
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from decimal import Decimal, localcontext
from fractions import Fraction

from tools.base import ToolError, tool

MAX_DIGITS = 10_000  # results (and intermediates) larger than this many decimal digits are refused
MAX_BITS = int(MAX_DIGITS * math.log2(10)) + 1
MAX_CHARS = 2_000  # longer expressions are refused before parsing
SIGNIFICANT = 10  # digits shown for non-integer results

_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d,])")
_TIMES = re.compile(r"(?<=[\d.)])\s*[xX×·]\s*(?=[\d.(])")
_BINOPS: dict[type, Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: lambda a, b: Fraction(a // b),
    ast.Mod: operator.mod,
}


def _call_depths(text: str) -> list[int]:
    """For each character, how many function-call parentheses enclose it."""
    depths: list[int] = []
    stack: list[bool] = []
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            before = text[:i].rstrip()
            name = before[len(before.rstrip("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")) :]
            is_call = bool(name) and not name[0].isdigit()
            stack.append(is_call)
            depth += is_call
        elif ch == ")" and stack:
            depth -= stack.pop()
        depths.append(depth)
    return depths


def normalize(expression: str) -> str:
    """Rewrite conveniences into Python syntax: ``4,817`` -> ``4817``, ``x``/``×`` -> ``*``, ``^`` -> ``**``.

    Thousands commas are removed only outside function calls, where a comma could not mean anything else.
    """
    text = expression.strip().rstrip("=").strip()
    text = text.replace("÷", "/").replace("−", "-").replace("^", "**")
    text = _TIMES.sub("*", text)
    depths = _call_depths(text)
    return _THOUSANDS.sub(lambda m: m.group().replace(",", "") if depths[m.start()] == 0 else m.group(), text)


def _check_size(value: Fraction) -> Fraction:
    if value.numerator.bit_length() + value.denominator.bit_length() > MAX_BITS + 64:
        raise ToolError(f"result too large (more than {MAX_DIGITS} digits)")
    return value


def _power(base: Fraction, exp: Fraction) -> Fraction:
    if exp.denominator == 1:
        n = exp.numerator
        if base == 0 and n < 0:
            raise ToolError("division by zero")
        if base in (0, 1) or n == 0:
            return Fraction(base**n if n > 0 else 1)
        if base == -1:
            return Fraction(1 if n % 2 == 0 else -1)
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if abs(n) > MAX_BITS or (abs(n) - 1) * (bits - 1) > MAX_BITS:
            raise ToolError(f"result too large (more than {MAX_DIGITS} digits): refused before computing it")
        return _check_size(base**n)
    if base < 0:
        raise ToolError("fractional power of a negative number has no real value")
    try:
        return Fraction(float(base) ** float(exp))
    except OverflowError as err:
        raise ToolError("result too large") from err


def _sqrt(x: Fraction) -> Fraction:
    if x < 0:
        raise ToolError("sqrt of a negative number")
    num, den = math.isqrt(x.numerator), math.isqrt(x.denominator)
    if num * num == x.numerator and den * den == x.denominator:
        return Fraction(num, den)
    return Fraction(math.sqrt(x))


def _round(x: Fraction, ndigits: Fraction = Fraction(0)) -> Fraction:
    """Round half away from zero (``round(2.5) == 3``), to ``ndigits`` decimals."""
    if ndigits.denominator != 1 or abs(ndigits) > 100:
        raise ToolError("round() digits must be an integer between -100 and 100")
    scale = Fraction(10) ** int(ndigits)
    scaled = abs(x) * scale
    rounded = math.floor(scaled + Fraction(1, 2))
    return Fraction(rounded if x >= 0 else -rounded) / scale


def _integer(x: Fraction, what: str) -> int:
    if x.denominator != 1:
        raise ToolError(f"{what} needs whole numbers")
    return x.numerator


def _factorial(x: Fraction) -> Fraction:
    n = _integer(x, "factorial")
    if n < 0:
        raise ToolError("factorial of a negative number")
    if math.lgamma(n + 1) / math.log(10) > MAX_DIGITS:
        raise ToolError(f"factorial({n}) has more than {MAX_DIGITS} digits")
    return Fraction(math.factorial(n))


def _gcd(*args: Fraction) -> Fraction:
    return Fraction(math.gcd(*(_integer(a, "gcd") for a in args)))


_FUNCS: dict[str, tuple[Callable[..., Fraction], int, int]] = {  # name: (function, min args, max args)
    "sqrt": (_sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (min, 1, 100),
    "max": (max, 1, 100),
    "floor": (lambda x: Fraction(math.floor(x)), 1, 1),
    "ceil": (lambda x: Fraction(math.ceil(x)), 1, 1),
    "factorial": (_factorial, 1, 1),
    "gcd": (_gcd, 1, 100),
}


def _eval(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ToolError(f"only numbers are allowed, not {node.value!r}")
        if isinstance(node.value, float) and not math.isfinite(node.value):
            raise ToolError("number too large")
        return Fraction(repr(node.value)) if isinstance(node.value, float) else Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        if type(node.op) not in _BINOPS:
            raise ToolError(f"operator {type(node.op).__name__} is not supported")
        if right == 0 and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
            raise ToolError("division by zero")
        return _check_size(_BINOPS[type(node.op)](left, right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in _FUNCS:
            raise ToolError(f"unknown function {node.func.id!r}; available: {', '.join(_FUNCS)}")
        fn, lo, hi = _FUNCS[node.func.id]
        if not lo <= len(node.args) <= hi:
            raise ToolError(f"{node.func.id}() takes {lo}" + (f" to {hi}" if hi > lo else "") + " argument(s)")
        return _check_size(Fraction(fn(*(_eval(a) for a in node.args))))
    if isinstance(node, ast.Name):
        raise ToolError(f"unknown name {node.id!r}: only numbers, operators and {', '.join(_FUNCS)} are allowed")
    raise ToolError(f"{type(node).__name__} is not allowed in a calculator expression")


def _int_text(n: int) -> str:
    return str(Decimal(n))  # Decimal has no int-to-str digit limit (sys.get_int_max_str_digits)


def format_number(value: Fraction) -> str:
    """Integers in full; other numbers rounded to 10 significant digits (10 decimals when above 1)."""
    if value.denominator == 1:
        return _int_text(value.numerator)
    whole = abs(value.numerator) // value.denominator
    with localcontext() as ctx:
        ctx.prec = SIGNIFICANT + (len(_int_text(whole)) if whole else 0)
        dec = (Decimal(value.numerator) / Decimal(value.denominator)).normalize()
    return format(dec, "f") if dec.adjusted() >= -7 else format(dec, "e")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly, e.g. "4,817 * 23 + 2**10" or "sqrt(2)/3".

    Supports + - * / // % ** (also x, ×, ÷, ^), parentheses and sqrt, abs, round, min, max, floor,
    ceil, factorial, gcd.

    Args:
        expression: the arithmetic expression to evaluate.
    """
    if len(expression) > MAX_CHARS:
        raise ToolError(f"expression too long ({len(expression)} characters, at most {MAX_CHARS})")
    text = normalize(expression)
    if not text:
        raise ToolError("empty expression")
    shown = text if len(text) <= 60 else text[:57] + "..."
    try:
        tree = ast.parse(text, mode="eval")
        return format_number(_eval(tree))
    except SyntaxError as err:
        raise ToolError(f"cannot parse {shown!r}: {err.msg}") from err
    except RecursionError as err:
        raise ToolError("expression nested too deeply") from err
    except (ArithmeticError, ValueError, TypeError, MemoryError) as err:
        raise ToolError(f"cannot evaluate {shown!r}: {err}") from err
