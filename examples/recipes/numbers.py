"""Numbers in word problems: find them in text, write them back, re-sample them, evaluate expressions.

Example:
    >>> [q.value for q in question_numbers("He paid $1,200 for 3 bikes, a 25% discount.")]
    [Fraction(1200, 1), Fraction(3, 1), Fraction(25, 1)]
    >>> number_text(Fraction(12345, 2), commas=True)
    '6,172.5'
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction

NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+")
_WORDS: dict[str, tuple[Fraction, ...]] = {
    "half": (Fraction(2), Fraction(1, 2)),
    "halves": (Fraction(2), Fraction(1, 2)),
    "quarter": (Fraction(4), Fraction(1, 4)),
    "quarters": (Fraction(4), Fraction(1, 4)),
    "third": (Fraction(3), Fraction(1, 3)),
    "thirds": (Fraction(3), Fraction(1, 3)),
    "fourth": (Fraction(4), Fraction(1, 4)),
    "fifth": (Fraction(5), Fraction(1, 5)),
    "tenth": (Fraction(10), Fraction(1, 10)),
    "twice": (Fraction(2),),
    "double": (Fraction(2),),
    "doubled": (Fraction(2),),
    "doubles": (Fraction(2),),
    "pair": (Fraction(2),),
    "pairs": (Fraction(2),),
    "triple": (Fraction(3),),
    "tripled": (Fraction(3),),
    "thrice": (Fraction(3),),
    "dozen": (Fraction(12),),
    "dozens": (Fraction(12),),
    "hundred": (Fraction(100),),
    "thousand": (Fraction(1000),),
    "million": (Fraction(10**6),),
}
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}


@dataclass(frozen=True)
class QNumber:
    """A number written in a question, with how it is written.

    Attributes:
        start, end: its characters in the question (the digits only; ``$`` and ``%`` stay outside).
        value: its value (``50`` for ``50%``).
        decimals: digits after the point as written (``2`` for ``$2.50``).
        commas: written with thousands commas.
        percent: followed by ``%`` or `` percent``.
        changeable: may be re-sampled: a standalone token, not 0 or 1, not a year, not 100%.
    """

    start: int
    end: int
    value: Fraction
    decimals: int
    commas: bool
    percent: bool
    changeable: bool


def template(text: str) -> str:
    """``text`` with every number replaced by ``#``: re-instantiations of one question share it."""
    return re.sub(r"\d[\d,.]*", "#", " ".join(text.split()))


def parse(text: str) -> Fraction:
    """``"1,200.50"`` -> ``Fraction(2401, 2)``."""
    return Fraction(text.replace(",", ""))


def standalone(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a number of its own (not ``3rd``, ``1/2``, ``5-10``, ``3:30``)."""
    before, after = text[start - 1 : start] if start else " ", text[end : end + 2]
    if before.isalnum() or before in ".,/:-_^":
        return False
    return not (after[:1].isalnum() or after[:1] in "/:_^" or re.match(r"[.,:/-]\d", after))


def inside_word(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` touches a letter or a colon (``3rd``, ``x2``, ``3:30``); operators are fine."""
    before, after = text[start - 1 : start] if start else " ", text[end : end + 1] or " "
    return before.isalpha() or after.isalpha() or ":" in (before, after)


def question_numbers(question: str) -> list[QNumber]:
    """Every number written in ``question``, in order."""
    found = []
    for m in NUMBER.finditer(question):
        text, value = m.group(), parse(m.group())
        decimals = len(text.split(".")[1]) if "." in text else 0
        percent = question[m.end() :].startswith(("%", " percent"))
        year = decimals == 0 and 1900 <= value <= 2100 and "," not in text
        changeable = (
            standalone(question, m.start(), m.end())
            and value not in (0, 1)
            and not year
            and not (percent and value >= 100)
        )
        found.append(QNumber(m.start(), m.end(), value, decimals, "," in text, percent, changeable))
    return found


def word_values(text: str) -> set[Fraction]:
    """Values that ``text`` writes as words (``twice`` -> 2, ``half`` -> 2 and 1/2, ``seven`` -> 7)."""
    values: set[Fraction] = set()
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _UNITS:
            values.add(Fraction(_UNITS.index(word)))
        values.update(_WORDS.get(word, ()))
        if word in _TENS:
            values.add(Fraction(_TENS[word]))
    return values


def decimals_needed(value: Fraction, most: int = 10) -> int:
    """The fewest decimals that write ``value`` exactly (at most ``most``)."""
    for d in range(most + 1):
        if (value * 10**d).denominator == 1:
            return d
    return most


def number_text(value: Fraction, decimals: int | None = None, commas: bool = False) -> str:
    """``value`` written with ``decimals`` decimals (default: as few as exact) and optional thousands commas."""
    decimals = decimals_needed(value) if decimals is None else decimals
    scaled = round(value * 10**decimals)
    whole, frac = divmod(abs(scaled), 10**decimals)
    text = f"{whole:,}" if commas else str(whole)
    return ("-" if scaled < 0 else "") + text + (f".{frac:0{decimals}d}" if decimals else "")


def resample(q: QNumber, rng: random.Random) -> Fraction:
    """A new value like ``q``: same count of significant digits, trailing zeros and decimals, within a
    factor of two (single digits: 2..9).

    ``250`` -> one of 120, 130, ..., 500; ``7`` -> 2..9; ``$2.50`` -> 1.20, 1.30, ..., 5.00;
    percentages stay at most 100.
    """
    scale = 10**q.decimals
    core, zeros = int(q.value * scale), 0
    while core and core % 10 == 0:
        core, zeros = core // 10, zeros + 1
    digits = len(str(core))
    lo, hi = (10 ** (digits - 1), 10**digits - 1) if digits > 1 else (1 if zeros else 2, 9)
    lo, hi = max(lo, core // 2), min(hi, max(core * 2, 9))  # similar magnitude: within a factor of two
    for _ in range(10):
        new = Fraction(rng.randint(lo, hi) * 10**zeros, scale)
        if not q.percent or new <= 100:
            return new
    return q.value


def evaluate(tokens: list[str | Fraction]) -> Fraction:
    """The exact value of tokens like ``[Fraction(3), "*", "(", Fraction(2), "+", Fraction(5), ")"]``.

    Raises:
        ValueError: malformed tokens. ZeroDivisionError: a division by zero.
    """
    pos = 0

    def peek() -> str | Fraction | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str | Fraction:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError("expression ends too early")
        pos += 1
        return tokens[pos - 1]

    def factor() -> Fraction:
        tok = take()
        if tok in ("-", "+"):
            return -factor() if tok == "-" else factor()
        if tok == "(":
            value = expr()
            if take() != ")":
                raise ValueError("unbalanced parentheses")
            return value
        if isinstance(tok, Fraction):
            return tok
        raise ValueError(f"unexpected {tok!r}")

    def term() -> Fraction:
        value = factor()
        while peek() in ("*", "/"):
            value = value * factor() if take() == "*" else value / factor()
        return value

    def expr() -> Fraction:
        value = term()
        while peek() in ("+", "-"):
            value = value + term() if take() == "+" else value - term()
        return value

    result = expr()
    if pos != len(tokens):
        raise ValueError("trailing tokens")
    return result
