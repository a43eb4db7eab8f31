"""Tool problems whose wording varies as much as their numbers: the trained families, told many ways.

The old families (:mod:`examples.recipes.tool_problems`) give each operation four or five fixed
sentences, and the model learnt to pick the operation from the sentence. Here a question is put
together from parts, so no sentence decides the operation:

- each fact has many frames, with synonyms for its operation ("shared equally among", "split
  evenly between", "per", "each", "apiece", ...), names, entities and units drawn at random;
- the facts come in a random order, and a third of the questions carry a distractor sentence with
  a number that is not needed (as in GSM-IC);
- the question is asked one of several ways;
- the first Thought restates what is asked and names the quantities, and the Action writes the
  expression from those names (``total = days * per_day + bonus`` in python, or the calculator),
  so the trace teaches the plan rather than the template.

:data:`FAMILIES` maps each family to its maker; :mod:`examples.recipes.diversity` counts the distinct
frames each family produces and the n-gram overlap with a dev set (the figures in docs/RESULTS.md).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from fractions import Fraction

from examples.recipes import program_problems
from examples.recipes.numbers import number_text
from examples.recipes.traces import Problem

NAMES = ("Ana", "Ben", "Chloe", "Dev", "Emeka", "Fatima", "Gus", "Hana", "Ivan", "Jia", "Kofi", "Lena", "Marco",
         "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tomas", "Uma", "Vik", "Wen", "Yara", "Zoe")  # fmt: skip
CONTAINERS = (("box", "boxes"), ("crate", "crates"), ("bag", "bags"), ("jar", "jars"), ("shelf", "shelves"),
              ("tray", "trays"), ("bin", "bins"), ("basket", "baskets"), ("carton", "cartons"), ("case", "cases"),
              ("drawer", "drawers"), ("bucket", "buckets"), ("row", "rows"), ("pack", "packs"))  # fmt: skip
ITEMS = ("apples", "pencils", "marbles", "stickers", "bolts", "cookies", "books", "seeds", "coins", "buttons",
         "tiles", "candles", "stamps", "eggs", "batteries", "tickets", "shells", "beads")  # fmt: skip
PEOPLE = (("friend", "friends"), ("student", "students"), ("child", "children"), ("team", "teams"),
          ("guest", "guests"), ("worker", "workers"), ("class", "classes"), ("neighbour", "neighbours"))  # fmt: skip
DISTRACTORS = (
    "{other} is {k} years old.", "The shop opened {k} years ago.", "It is {k} kilometres from the station.",
    "{other} has {k} cousins.", "The temperature that day was {k} degrees.", "The room number is {k}.",
    "{other} walked {k} steps before lunch.", "The bus was {k} minutes late.",
)  # fmt: skip


def _w(n: int | Fraction, rng: random.Random) -> str:
    return number_text(Fraction(n), commas=abs(n) >= 1000 and rng.random() < 0.5)


def _story(rng: random.Random, facts: list[str], question: str, shuffle: bool = True) -> str:
    """Facts in a random order (when their order does not matter), maybe a distractor, then the question."""
    facts = list(facts)
    if shuffle:
        rng.shuffle(facts)
    if rng.random() < 0.33:
        other = rng.choice(NAMES)
        facts.insert(rng.randint(0, len(facts)), rng.choice(DISTRACTORS).format(other=other, k=rng.randint(2, 97)))
    return " ".join([*facts, question])


def _act(rng: random.Random, plan: str, names: dict[str, int | str], result: str, formula: str) -> tuple:
    """One step: the plan as the Thought, then python over named quantities or the calculator."""
    if rng.random() < 0.5:
        lines = [f"{name} = {value}" for name, value in names.items()]
        code = "\n".join([*lines, f"{result} = {formula}", f"print({result})"])
        return (plan, "python", {"code": code})
    expression = formula
    for name, value in sorted(names.items(), key=lambda kv: -len(kv[0])):
        expression = expression.replace(name, str(value))
    if any(ch.isalpha() for ch in expression):
        raise ValueError(f"recipe bug: {formula!r} left names in {expression!r}")
    return (plan, "calculator", {"expression": expression})


def total(rng: random.Random) -> Problem:
    name, (one, many), item = rng.choice(NAMES), rng.choice(CONTAINERS), rng.choice(ITEMS)
    a, b = rng.randint(3, 9_999), rng.randint(2, 999)
    wa, wb = _w(a, rng), _w(b, rng)
    count = rng.choice(
        [
            f"{name} has {wa} {many}.",
            f"There are {wa} {many} in the storeroom.",
            f"{name} bought {wa} {many}.",
            f"A van delivered {wa} {many}.",
            f"{name} lines up {wa} {many}.",
        ]
    )
    each = rng.choice(
        [
            f"Each {one} holds {wb} {item}.",
            f"Every {one} has {wb} {item} in it.",
            f"There are {wb} {item} in every {one}.",
            f"{wb} {item} fit in one {one}.",
            f"The {many} contain {wb} {item} apiece.",
            f"Each one is filled with {wb} {item}.",
        ]
    )
    ask = rng.choice(
        [
            f"How many {item} are there in total?",
            f"How many {item} is that altogether?",
            f"What is the total number of {item}?",
            f"How many {item} are there in all the {many}?",
            f"Find how many {item} there are overall.",
        ]
    )
    question = _story(rng, [count, each], ask, shuffle=not each.startswith("Each one"))
    plan = f"The question asks for all the {item}: {a} {many} with {b} in each, so I multiply."
    step = _act(rng, plan, {many.replace(" ", "_"): a, f"per_{one}": b}, f"total_{item}", f"{many} * per_{one}")
    return Problem("v_total", question, (step,), str(a * b))


def share(rng: random.Random) -> Problem:
    name, item, (one, many) = rng.choice(NAMES), rng.choice(ITEMS), rng.choice(PEOPLE)
    k, each = rng.randint(2, 60), rng.randint(2, 999)
    n = k * each
    wn = _w(n, rng)
    have = rng.choice(
        [
            f"{name} has {wn} {item}.",
            f"A bag holds {wn} {item}.",
            f"{name} collected {wn} {item}.",
            f"There are {wn} {item} on the table.",
        ]
    )
    split = rng.choice(
        [
            f"They are shared equally among {k} {many}.",
            f"{name} splits them evenly between {k} {many}.",
            f"{name} divides them into equal parts for {k} {many}.",
            f"{name} gives the same number to each of {k} {many}.",
            f"The {item} go to {k} {many}, the same amount for everyone.",
        ]
    )
    ask = rng.choice(
        [
            f"How many {item} does each {one} get?",
            f"How many {item} is that per {one}?",
            f"How many {item} does one {one} receive?",
            f"What is each {one}'s share?",
        ]
    )
    question = _story(rng, [have, split], ask, shuffle=False)
    plan = f"The question asks for one {one}'s share: {n} {item} split equally among {k}, so I divide."
    step = _act(rng, plan, {item: n, many: k}, f"per_{one}", f"{item} // {many}")
    return Problem("v_share", question, (step,), str(each))


RATES = (("earns", "dollars", ""), ("saves", "dollars", ""), ("reads", "pages", ""), ("runs", "kilometres", ""),
         ("bakes", "loaves", ""), ("plants", "trees", ""), ("knits", "scarves", ""), ("collects", "shells", ""))  # fmt: skip
PERIODS = (("day", "days"), ("week", "weeks"), ("hour", "hours"), ("month", "months"))


def rate(rng: random.Random) -> Problem:
    name, (verb, unit, cur), (per, pers) = rng.choice(NAMES), rng.choice(RATES), rng.choice(PERIODS)
    r, n, e = rng.randint(2, 999), rng.randint(2, 90), rng.randint(1, 9_999)
    wr, we = f"{cur}{_w(r, rng)}", f"{cur}{_w(e, rng)}"
    sign = rng.choice(["+", "-"]) if r * n > e else "+"
    per_fact = rng.choice(
        [
            f"{name} {verb} {wr} {unit} a {per}.",
            f"Every {per}, {name} {verb} {wr} {unit}.",
            f"{name} {verb} {wr} {unit} each {per}.",
            f"At a rate of {wr} {unit} per {per}, {name} {verb}.",
        ]
    )
    time_fact = rng.choice(
        [
            f"This goes on for {n} {pers}.",
            f"{name} keeps it up for {n} {pers}.",
            f"That lasts {n} {pers}.",
            f"{name} does this for {n} {pers} in a row.",
        ]
    )
    extra = (rng.choice([f"On top of that, {name} gets {we} {unit} more.", f"{name} also adds {we} {unit} at the end.",
                         f"Then a bonus of {we} {unit} comes in."]) if sign == "+" else
             rng.choice([f"Afterwards {name} uses up {we} {unit}.", f"Then {name} gives away {we} {unit}.",
                         f"{name} loses {we} {unit} at the end."]))  # fmt: skip
    ask = rng.choice(
        [
            f"How many {unit} does {name} have in the end?",
            f"How many {unit} is that at the end?",
            f"What is {name}'s total in {unit} after all of this?",
        ]
    )
    question = _story(rng, [per_fact, time_fact, extra], ask, shuffle=False)
    word = "add" if sign == "+" else "subtract"
    plan = f"The question asks for the {unit} at the end: {r} a {per} for {n} {pers}, then I {word} {e}."
    names = {f"per_{per}": r, pers: n, "extra": e}
    step = _act(rng, plan, names, "total", f"per_{per} * {pers} {sign} extra")
    return Problem("v_rate", question, (step,), str(r * n + e if sign == "+" else r * n - e))


def percent(rng: random.Random) -> Problem:
    name, p, base = (
        rng.choice(NAMES),
        rng.choice([5, 8, 10, 12, 15, 18, 20, 25, 30, 40, 50, 75]),
        rng.randint(2, 400) * 20,
    )
    kind = rng.choice(["of", "off", "up", "tip"])
    wb = _w(base, rng)
    if kind == "of":
        facts = [
            rng.choice([f"A school has {wb} pupils.", f"{name}'s town has {wb} houses.", f"A field holds {wb} sheep."]),
            rng.choice(
                [f"{p}% of them are new.", f"{p} percent of them were counted twice.", f"{p} in every 100 are black."]
            ),
        ]
        ask, value = (
            rng.choice(["How many is that?", "How many are they?", "What number is that?"]),
            Fraction(base * p, 100),
        )
        plan, formula = f"The question asks for {p}% of {base}: {base} times {p} over 100.", "whole * rate / 100"
    elif kind == "off":
        facts = [
            rng.choice([f"A coat costs ${wb}.", f"The price of a bike is ${wb}.", f"{name} wants a ${wb} phone."]),
            rng.choice(
                [f"It is on sale at {p}% off.", f"The shop takes {p} percent off.", f"There is a {p}% discount."]
            ),
        ]
        ask, value = (
            rng.choice(
                ["What does it cost now?", "What is the sale price?", "How much does it cost after the discount?"]
            ),
            Fraction(base * (100 - p), 100),
        )
        plan, formula = (
            f"The question asks for the price after {p}% off: {base} times (100 - {p}) over 100.",
            "whole * (100 - rate) / 100",
        )
    elif kind == "up":
        facts = [
            rng.choice([f"Rent was ${wb} a month.", f"A club had {wb} members.", f"A farm grew {wb} kg of beans."]),
            rng.choice([f"It went up by {p}%.", f"Then it rose {p} percent.", f"This year it grew by {p}%."]),
        ]
        ask, value = (
            rng.choice(["What is it now?", "What is the new figure?", "How much is it after the rise?"]),
            Fraction(base * (100 + p), 100),
        )
        plan, formula = (
            f"The question asks for the value after a {p}% rise: {base} times (100 + {p}) over 100.",
            "whole * (100 + rate) / 100",
        )
    else:
        facts = [
            rng.choice([f"Dinner came to ${wb}.", f"{name}'s bill is ${wb}.", f"A taxi ride cost ${wb}."]),
            rng.choice([f"{name} leaves a {p}% tip.", f"A {p} percent tip is added.", f"{name} tips {p}%."]),
        ]
        ask, value = rng.choice(["How much is the tip?", "What is the tip in dollars?"]), Fraction(base * p, 100)
        plan, formula = f"The question asks for the tip: {p}% of {base}.", "whole * rate / 100"
    question = _story(rng, facts, ask, shuffle=False)
    step = _act(rng, plan, {"whole": base, "rate": p}, "result", formula)
    return Problem("v_percent", question, (step,), number_text(value))


UNITS = ((("kilometre", "kilometres", "km"), ("metre", "metres", "m"), 1000), (("hour", "hours", "h"), ("minute", "minutes", "min"), 60),
         (("kilogram", "kilograms", "kg"), ("gram", "grams", "g"), 1000), (("litre", "litres", "L"), ("millilitre", "millilitres", "mL"), 1000),
         (("foot", "feet", "ft"), ("inch", "inches", "in"), 12), (("day", "days", "d"), ("hour", "hours", "h"), 24),
         (("week", "weeks", "wk"), ("day", "days", "d"), 7), (("yard", "yards", "yd"), ("foot", "feet", "ft"), 3))  # fmt: skip


def convert(rng: random.Random) -> Problem:
    (big, small, factor), x = rng.choice(UNITS), rng.randint(2, 9_999)
    down = rng.random() < 0.6
    if not down:
        x *= factor
    src, dst = (big, small) if down else (small, big)
    shown = rng.choice([f"{_w(x, rng)} {src[1]}", f"{_w(x, rng)} {src[2]}"])
    question = rng.choice([f"How many {dst[1]} are in {shown}?", f"Convert {shown} to {dst[1]}.",
                           f"What is {shown} in {dst[1]}?", f"{shown} makes how many {dst[1]}?",
                           f"A path is {shown} long. How long is it in {dst[1]}?" if src[1] in ("metres", "kilometres", "feet", "yards") else
                           f"Express {shown} in {dst[1]}."])  # fmt: skip
    op = "*" if down else "/"
    plan = f"The question asks for {x} {src[1]} in {dst[1]}; one {big[0]} is {factor} {small[1]}, so I {'multiply' if down else 'divide'}."
    step = _act(rng, plan, {src[1]: x, "per": factor}, dst[1], f"{src[1]} {op} per" if down else f"{src[1]} // per")
    return Problem("v_convert", question, (step,), str(x * factor if down else x // factor))


FAMILIES: dict[str, Callable[[random.Random], Problem]] = {
    "v_total": total, "v_share": share, "v_rate": rate, "v_percent": percent, "v_convert": convert,
    **program_problems.FAMILIES,  # the python fallback, one family a kind
}  # fmt: skip
