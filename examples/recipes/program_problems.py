"""Questions no calculator template fits, answered by a short general program (the python fallback).

The shipped model never falls back on writing a program when its templates run out. Each kind
here is something a user asks a calculator-and-python agent (a gcd, a median, a base conversion,
compound interest, a string reversed, ...), worded a few ways, and solved by a small program over
named values that uses the standard library where it has the answer (``math``, ``statistics``,
``datetime``). The first Thought says what is asked and that a program computes it; the answer is
computed here, independently of the code, and the recipe checks the tool's output against it.
"""

from __future__ import annotations

import datetime
import math
import random
import statistics
from collections.abc import Callable
from fractions import Fraction

from examples.recipes.numbers import number_text
from examples.recipes.traces import Problem

WORDS = ("lantern", "harbour", "velvet", "orbit", "meadow", "puzzle", "glacier", "pepper", "silver", "tunnel",
         "compass", "rhythm", "saddle", "kettle", "window", "marble", "tractor", "violin", "whistle", "ginger")  # fmt: skip
Kind = Callable[[random.Random], tuple[str, str, str, str]]  # question, plan, code, answer


def _listed(values: list[int]) -> str:
    return ", ".join(map(str, values[:-1])) + f" and {values[-1]}"


def gcd_lcm(rng: random.Random) -> tuple[str, str, str, str]:
    a, b = rng.randint(12, 9_999), rng.randint(12, 9_999)
    if rng.random() < 0.5:
        q = rng.choice([f"Give the greatest common divisor of the numbers {a} and {b}.", f"Find gcd({a}, {b}).",
                        f"Which largest whole number goes into both {a} and {b} exactly?"])  # fmt: skip
        return q, "The question asks for the greatest common divisor; math.gcd computes it.", \
            f"import math\na, b = {a}, {b}\nprint(math.gcd(a, b))", str(math.gcd(a, b))  # fmt: skip
    q = rng.choice([f"Give the least common multiple of the numbers {a} and {b}.", f"Find the LCM of {a} and {b}.",
                    f"What is the smallest number that both {a} and {b} divide into?"])  # fmt: skip
    return q, "The question asks for the least common multiple; I compute it from the gcd.", \
        f"import math\na, b = {a}, {b}\nprint(a * b // math.gcd(a, b))", str(a * b // math.gcd(a, b))  # fmt: skip


def median_spread(rng: random.Random) -> tuple[str, str, str, str]:
    values = [rng.randint(1, 500) for _ in range(rng.choice([5, 7, 9]))]
    what = rng.choice(["median", "range", "largest", "smallest"])
    q = rng.choice([f"Give the {what} of {_listed(values)}.", f"Here are some scores: {_listed(values)}. What is the {what}?",
                    f"Find the {what} of these numbers: {_listed(values)}."])  # fmt: skip
    expr = {"median": "statistics.median(values)", "range": "max(values) - min(values)",
            "largest": "max(values)", "smallest": "min(values)"}[what]  # fmt: skip
    answer = {"median": statistics.median(values), "range": max(values) - min(values),
              "largest": max(values), "smallest": min(values)}[what]  # fmt: skip
    code = f"import statistics\nvalues = [{', '.join(map(str, values))}]\nprint({expr})"
    return q, f"The question asks for the {what} of a list; a short program finds it.", code, str(answer)


def base_convert(rng: random.Random) -> tuple[str, str, str, str]:
    n = rng.randint(5, 99_999)
    base, fmt = rng.choice([("binary", "b"), ("hexadecimal", "x"), ("octal", "o")])
    if rng.random() < 0.6:
        q = rng.choice([f"Write {n} in {base}.", f"What is {n} in {base}?", f"Convert the number {n} to {base}."])
        return q, f"The question asks for {n} in {base}; Python's format does it.", \
            f"n = {n}\nprint(format(n, '{fmt}'))", format(n, fmt)  # fmt: skip
    digits = format(n, fmt)
    q = rng.choice([f"The {base} number {digits} is what in decimal?", f"Convert {base} {digits} to a decimal number."])
    radix = {"b": 2, "x": 16, "o": 8}[fmt]
    return q, f"The question asks for a {base} number in decimal; int() with base {radix} reads it.", \
        f"print(int('{digits}', {radix}))", str(n)  # fmt: skip


def sequence(rng: random.Random) -> tuple[str, str, str, str]:
    n = rng.randint(5, 60)
    kind = rng.choice(["fibonacci", "triangular", "squares", "factorial"])
    if kind == "fibonacci":
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        q = rng.choice(
            [
                f"What is the {n}th Fibonacci number (F(1) = 1, F(2) = 1)?",
                f"Find Fibonacci number {n}, counting F(1) = F(2) = 1.",
            ]
        )
        code = f"a, b = 0, 1\nfor _ in range({n}):\n    a, b = b, a + b\nprint(a)"
        return q, "The question asks for a Fibonacci number; a loop adds the pairs.", code, str(a)
    if kind == "triangular":
        q = rng.choice(
            [f"What is the sum of the whole numbers from 1 to {n * 37}?", f"Add up every integer from 1 to {n * 37}."]
        )
        return q, "The question asks for a sum of a range; sum(range(...)) computes it.", \
            f"print(sum(range(1, {n * 37} + 1)))", str(n * 37 * (n * 37 + 1) // 2)  # fmt: skip
    if kind == "squares":
        q = rng.choice([f"What is the sum of the squares of 1 to {n}?", f"Compute 1^2 + 2^2 + ... + {n}^2."])
        return q, "The question asks for a sum of squares; a generator sums them.", \
            f"print(sum(k * k for k in range(1, {n} + 1)))", str(sum(k * k for k in range(1, n + 1)))  # fmt: skip
    m = rng.randint(5, 25)
    q = rng.choice([f"Work out {m} factorial.", f"Compute {m}!.", f"How many ways can {m} people stand in a line?"])
    return q, "The question asks for a factorial; math.factorial computes it.", \
        f"import math\nprint(math.factorial({m}))", str(math.factorial(m))  # fmt: skip


def choose(rng: random.Random) -> tuple[str, str, str, str]:
    n = rng.randint(5, 40)
    k = rng.randint(2, min(8, n - 1))
    q = rng.choice([f"In how many ways can a team of {k} be picked from {n} players?", f"Evaluate {n} choose {k}.",
                    f"How many different groups of {k} can be made from {n} people?"])  # fmt: skip
    return q, f"The question asks for combinations of {k} out of {n}; math.comb counts them.", \
        f"import math\nprint(math.comb({n}, {k}))", str(math.comb(n, k))  # fmt: skip


def digits(rng: random.Random) -> tuple[str, str, str, str]:
    n = rng.randint(10**4, 10**12)
    if rng.random() < 0.5:
        q = rng.choice([f"Find the digit sum of {n}.", f"Add up the digits of {n}."])
        return q, "The question asks for a digit sum; I add the digits of the number's text.", \
            f"n = {n}\nprint(sum(int(d) for d in str(n)))", str(sum(map(int, str(n))))  # fmt: skip
    q = rng.choice([f"What is {n} with its digits reversed?", f"Reverse the digits of {n}."])
    return q, "The question asks for the digits in reverse order; slicing the text reverses it.", \
        f"n = {n}\nprint(int(str(n)[::-1]))", str(int(str(n)[::-1]))  # fmt: skip


def text_ops(rng: random.Random) -> tuple[str, str, str, str]:
    word = rng.choice(WORDS)
    kind = rng.choice(["reverse", "length", "upper", "sorted"])
    if kind == "reverse":
        q = rng.choice([f'Spell "{word}" backwards.', f"What is the word {word} reversed?"])
        return (
            q,
            "The question asks for the word backwards; slicing reverses a string.",
            f"print('{word}'[::-1])",
            word[::-1],
        )
    if kind == "length":
        q = rng.choice([f'How many letters are in "{word}"?', f"How long is the word {word}, in letters?"])
        return (
            q,
            "The question asks for the word's length; len() counts its letters.",
            f"print(len('{word}'))",
            str(len(word)),
        )
    if kind == "upper":
        q = rng.choice([f'Write "{word}" in capital letters.', f"What is {word} in upper case?"])
        return (
            q,
            "The question asks for the word in capitals; str.upper does it.",
            f"print('{word}'.upper())",
            word.upper(),
        )
    q = rng.choice(
        [
            f'What do you get if you sort the letters of "{word}" alphabetically?',
            f"Put the letters of {word} in alphabetical order.",
        ]
    )
    return q, "The question asks for the letters sorted; sorted() and join do it.", \
        f"print(''.join(sorted('{word}')))", "".join(sorted(word))  # fmt: skip


def money_growth(rng: random.Random) -> tuple[str, str, str, str]:
    p, r, years = rng.randint(2, 200) * 50, rng.choice([2, 3, 4, 5, 6, 7, 8]), rng.randint(2, 15)
    while (Fraction(p) * Fraction(100 + r, 100) ** years * 1000) % 10 == 5:  # a half cent: float rounding may go down
        p += 50
    q = rng.choice([f"${p} is invested at {r}% a year, compounded yearly. What is it worth after {years} years, to the cent?",
                    f"A savings account starts with ${p} and earns {r}% interest each year. How much is in it after {years} years? Round to 2 decimals.",
                    f"How much will ${p} become after {years} years at {r}% a year, compounded yearly (to the cent)?"])  # fmt: skip
    value = Fraction(p) * Fraction(100 + r, 100) ** years
    code = f"principal = {p}\nrate = {r} / 100\nyears = {years}\nprint(round(principal * (1 + rate) ** years, 2))"
    return q, "The question asks for compound growth: principal times (1 + rate) to the years.", code, \
        number_text(Fraction(round(value * 100), 100))  # fmt: skip


def calendar(rng: random.Random) -> tuple[str, str, str, str]:
    year = rng.randint(1900, 2099)
    if rng.random() < 0.5:
        first, last = sorted(rng.sample(range(1800, 2100), 2))
        q = rng.choice(
            [
                f"From {first} through {last}, how many years are leap years?",
                f"Count every leap year in {first}-{last}, both ends included.",
            ]
        )
        count = sum(1 for y in range(first, last + 1) if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))
        code = f"import calendar\nprint(sum(calendar.isleap(y) for y in range({first}, {last} + 1)))"
        return q, "The question asks for a count of leap years; calendar.isleap tests each year.", code, str(count)
    day = datetime.date(year, 1, 1) + datetime.timedelta(days=rng.randint(0, 364))
    q = rng.choice(
        [
            f"What day of the year is {day.isoformat()} (1 January is day 1)?",
            f"{day.strftime('%d %B %Y')} is which day of its year, counting 1 January as 1?",
        ]
    )
    code = f"import datetime\nprint(datetime.date({day.year}, {day.month}, {day.day}).timetuple().tm_yday)"
    return q, "The question asks for the day of the year; datetime gives it.", code, str(day.timetuple().tm_yday)


def clock(rng: random.Random) -> tuple[str, str, str, str]:
    h, m, add = rng.randint(0, 23), rng.randint(0, 59), rng.randint(15, 2000)
    end = (h * 60 + m + add) % (24 * 60)
    shown = f"{end // 60:02d}:{end % 60:02d}"
    q = rng.choice([f"It is {h:02d}:{m:02d}. What time will it be in {add} minutes (24-hour clock)?",
                    f"A film starts at {h:02d}:{m:02d} and lasts {add} minutes. At what time does it end (HH:MM)?"])  # fmt: skip
    code = f"start = {h} * 60 + {m}\nend = (start + {add}) % (24 * 60)\nprint(f'{{end // 60:02d}}:{{end % 60:02d}}')"
    return q, "The question asks for a clock time later on; I count in minutes modulo a day.", code, shown


KINDS: dict[str, Kind] = {
    "gcd_lcm": gcd_lcm, "median_spread": median_spread, "base_convert": base_convert, "sequence": sequence,
    "choose": choose, "digits": digits, "text_ops": text_ops, "money_growth": money_growth, "calendar": calendar,
    "clock": clock,
}  # fmt: skip


def _family(kind: str) -> Callable[[random.Random], Problem]:
    def make(rng: random.Random) -> Problem:
        question, plan, code, answer = KINDS[kind](rng)
        return Problem(f"p_{kind}", question, ((plan, "python", {"code": code}),), answer)

    return make


FAMILIES: dict[str, Callable[[random.Random], Problem]] = {f"p_{kind}": _family(kind) for kind in KINDS}
