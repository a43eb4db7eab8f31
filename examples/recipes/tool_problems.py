"""Synthetic tool-use problems (family 3): the answer computed here, the trace from the real tools.

Each family draws numbers, picks one of several wordings, writes the tool call(s) a good agent
would make, and knows the answer independently of the tools; :func:`tool_traces` runs the calls
and keeps a trace only when the tool's last observation shows that answer.

The wordings avoid the project's held-out check questions (see ``HELD_OUT``).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from examples.recipes.numbers import number_text
from examples.recipes.text_problems import PYTHON_FAMILIES
from examples.recipes.traces import Problem, run_tools, same_number, tool_step, trace_record

log = logging.getLogger(__name__)

HELD_OUT = (  # check questions of the project: never generated, not even their wording
    "Each of 6,918 shelves holds 430 books. How many books are on the shelves?",
    "A farm collects 6,972 eggs a week for 60 weeks and sells 643 of them. How many eggs are left?",
    "What is 3 to the power of 21?",
    "How many prime numbers are there below 2,000?",
    "What is the sum of all integers from 1 to 12,345?",
    "On what day of the week was 2000-01-01?",
)


def write(n: int | Fraction, rng: random.Random) -> str:
    """A number as a question writes it: large ones with thousands commas half of the time."""
    return number_text(Fraction(n), commas=abs(n) >= 1000 and rng.random() < 0.5)


def calc(thought: str, expression: str) -> tuple[str, str, dict[str, Any]]:
    return thought, "calculator", {"expression": expression}


_GROUPS = [
    ("shelves", "shelf", "books"),
    ("crates", "crate", "bottles"),
    ("boxes", "box", "pens"),
    ("trucks", "truck", "bricks"),
    ("bags", "bag", "marbles"),
    ("packs", "pack", "cards"),
    ("rows", "row", "seats"),
    ("pallets", "pallet", "cans"),
    ("cartons", "carton", "eggs"),
    ("trays", "tray", "cupcakes"),
    ("jars", "jar", "beads"),
    ("containers", "container", "screws"),
]


def multiply(rng: random.Random) -> Problem:
    many, one, item = rng.choice(_GROUPS)
    a, b = rng.randint(100, 99_999), rng.randint(10, 9_999)
    wa, wb = write(a, rng), write(b, rng)
    question = rng.choice(
        [
            f"A warehouse has {wa} {many} with {wb} {item} in each {one}. How many {item} are there in total?",
            f"There are {wa} {many}, and every {one} contains {wb} {item}. How many {item} are there altogether?",
            f"If one {one} holds {wb} {item}, how many {item} do {wa} {many} hold?",
            f"{wa} {many} each have {wb} {item}. What is the total number of {item}?",
            f"A store received {wa} {many} of {item}, with {wb} {item} per {one}. How many {item} did it receive?",
        ]
    )
    thought = rng.choice(
        [
            f"I multiply the number of {many} by the {item} per {one}.",
            f"The total is {many} times {item} in each {one}.",
        ]
    )
    expr = rng.choice([f"{a} * {b}", f"{b} * {a}", f"{wa} * {wb}"])
    return Problem("multiply", question, (calc(thought, expr),), str(a * b))


_STOCK = [
    ("bakery", "bakes", "loaves", "gives away"),
    ("factory", "makes", "chairs", "ships"),
    ("beekeeper", "harvests", "jars of honey", "sells"),
    ("dairy", "produces", "liters of milk", "uses"),
    ("orchard", "picks", "apples", "sells"),
    ("library", "receives", "books", "donates"),
    ("mine", "digs", "tons of coal", "delivers"),
    ("hatchery", "hatches", "chicks", "sells"),
]


def stock(rng: random.Random) -> Problem:
    who, verb, item, out = rng.choice(_STOCK)
    x, w = rng.randint(100, 9_999), rng.randint(2, 99)
    s = rng.randint(10, x * w - 1)
    wx, ws = write(x, rng), write(s, rng)
    question = rng.choice(
        [
            f"A {who} {verb} {wx} {item} every week for {w} weeks and {out} {ws} of them. How many {item} remain?",
            f"Each week a {who} {verb} {wx} {item}. After {w} weeks it {out} {ws}. How many {item} does it have left?",
            f"Over {w} weeks, a {who} {verb} {wx} {item} per week. If it {out} {ws} {item}, how many are still there?",
            f"A {who} {verb} {wx} {item} weekly. It keeps this up for {w} weeks, then {out} {ws}. How many are left?",
        ]
    )
    first = rng.choice(
        [f"First I find how many {item} there are after {w} weeks.", f"I multiply the weekly amount by {w} weeks."]
    )
    second = rng.choice([f"Then I subtract the {s} {item} that went out.", f"Now I take away the {s}."])
    return Problem("stock", question, (calc(first, f"{x} * {w}"), calc(second, f"{x * w} - {s}")), str(x * w - s))


def power(rng: random.Random) -> Problem:
    a, b = rng.randint(2, 15), rng.randint(2, 25)
    if (a, b) == (3, 21):
        b = 22
    ordinal = f"{b}{'th' if 10 <= b % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(b % 10, 'th')}"
    question = rng.choice(
        [
            f"Calculate {a} raised to the power {b}.",
            f"What is {a}^{b}?",
            f"Compute {a} to the {ordinal} power.",
            f"What number do you get when you raise {a} to the power of {b}?",
        ]
    )
    expr = rng.choice([f"{a}**{b}", f"{a} ** {b}", f"{a}^{b}"])
    return Problem("power", question, (calc(f"I raise {a} to the power {b} with the calculator.", expr),), str(a**b))


def percent(rng: random.Random) -> Problem:
    p, n = rng.choice([5, 10, 12, 15, 20, 25, 30, 35, 40, 45, 50, 60, 75, 80, 90]), rng.randint(2, 500) * 20
    wn = write(n, rng)
    if rng.random() < 0.5:
        question = rng.choice(
            [
                f"What is {p}% of {wn}?",
                f"Find {p} percent of {wn}.",
                f"A town of {wn} people: {p}% of them cycle to work. How many people is that?",
            ]
        )
        calls = (calc(f"{p}% of {n} is {n} times {p} divided by 100.", f"{n} * {p} / 100"),)
        return Problem("percent", question, calls, number_text(Fraction(n * p, 100)))
    question = rng.choice(
        [
            f"A bike costs ${wn} and is on sale for {p}% off. What is the sale price in dollars?",
            f"A ${wn} laptop is discounted by {p}%. How much does it cost after the discount?",
        ]
    )
    calls = (
        calc(f"The discount is {p}% of {n}.", f"{n} * {p} / 100"),
        calc("I subtract the discount from the price.", f"{n} - {number_text(Fraction(n * p, 100))}"),
    )
    return Problem("percent", question, calls, number_text(Fraction(n * (100 - p), 100)))


_UNITS = [
    ("kilometers", "meters", 1000),
    ("meters", "centimeters", 100),
    ("hours", "minutes", 60),
    ("minutes", "seconds", 60),
    ("kilograms", "grams", 1000),
    ("liters", "milliliters", 1000),
    ("feet", "inches", 12),
    ("days", "hours", 24),
    ("weeks", "days", 7),
    ("inches", "centimeters", "2.54"),
    ("miles", "kilometers", "1.609344"),
    ("pounds", "ounces", 16),
    ("yards", "feet", 3),
]


def convert(rng: random.Random) -> Problem:
    big, small, factor = rng.choice(_UNITS)
    x = rng.randint(2, 9_999) if rng.random() < 0.7 else Fraction(rng.randint(11, 999), 10)
    wx = write(x, rng)
    question = rng.choice(
        [
            f"How many {small} are in {wx} {big}?",
            f"Convert {wx} {big} to {small}.",
            f"{wx} {big} is how many {small}?",
            f"Express {wx} {big} in {small}.",
        ]
    )
    thought = f"One of the {big} is {factor} {small}, so I multiply by {factor}."
    value = Fraction(x) * Fraction(str(factor))
    return Problem("convert", question, (calc(thought, f"{number_text(Fraction(x))} * {factor}"),), number_text(value))


def _operand(rng: random.Random) -> tuple[str, str]:
    """(as the question writes it, as the calculator gets it) of a random operand."""
    n = rng.choice([rng.randint(2, 99), rng.randint(100, 9_999), rng.randint(10_000, 99_999)])
    return write(n, rng), str(n)


def expression(rng: random.Random) -> Problem:
    """An arithmetic expression written out: two or three operations, sometimes a bracketed sum first."""
    (wa, ca), (wb, cb), (wc, cc) = (_operand(rng) for _ in range(3))
    op1, op2 = rng.choice("+-*"), rng.choice("+-*")
    if rng.random() < 0.5:
        shown, calc_text = f"({wa} {op1} {wb}) {op2} {wc}", f"({ca} {op1} {cb}) {op2} {cc}"
    else:
        shown, calc_text = f"{wa} {op1} {wb} {op2} {wc}", f"{ca} {op1} {cb} {op2} {cc}"
    value = eval(calc_text, {"__builtins__": {}}, {})  # digits, + - * and brackets only, made here
    question = rng.choice(["What is {}?", "Compute {}.", "Calculate {}.", "Evaluate {}.", "Work out {}."]).format(shown)
    thought = rng.choice(["I evaluate the expression with the calculator.", "The calculator can work this out."])
    return Problem("expression", question, (calc(thought, rng.choice([calc_text, shown])),), str(value))


CALCULATOR_FAMILIES: dict[str, Callable[[random.Random], Problem]] = {
    "expression": expression,
    "multiply": multiply,
    "stock": stock,
    "power": power,
    "percent": percent,
    "convert": convert,
}
FAMILIES: dict[str, Callable[[random.Random], Problem]] = {**CALCULATOR_FAMILIES, **PYTHON_FAMILIES}


def _shows(observation: str, answer: str) -> bool:
    try:
        return same_number(observation, Fraction(answer.replace(",", "")))
    except ValueError:
        return observation.strip() == answer


def tool_traces(
    per_family: int, seed: int, workers: int = 4, families: dict[str, Callable[[random.Random], Problem]] | None = None
) -> tuple[list[dict[str, Any]], Counter]:
    """Family 3: ``per_family`` problems of each family (default :data:`FAMILIES`) as ReAct traces; counts."""
    rng = random.Random(seed)
    problems, seen = [], set(HELD_OUT)
    for make in (families or FAMILIES).values():
        made = 0
        for _ in range(per_family * 5):
            p = make(rng)
            if p.question not in seen:
                seen.add(p.question)
                problems.append(p)
                made += 1
            if made == per_family:
                break
    observations = run_tools([(tool, args) for p in problems for _, tool, args in p.calls], workers)
    records, counts = [], Counter()
    for p in problems:
        steps = [tool_step(t, tool, args, observations) for t, tool, args in p.calls]
        if not _shows(steps[-1].observation, p.answer):
            raise RuntimeError(f"recipe bug: {p.question!r} answer {p.answer!r}, tool says {steps[-1].observation!r}")
        records.append(trace_record(p.question, steps, p.answer))
        counts[p.family] += 1
    log.info("tool-use problems: %s", dict(counts))
    return records, counts
