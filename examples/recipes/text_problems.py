"""Tool-use problems for the ``python`` tool (part of family 3): primes, sums, dates, strings, averages.

Each answer is computed here by other means than the code the trace runs (a sieve shared by all
prime questions, Gauss's formula, ordinal dates, ``str.count`` on our own text, exact fractions).
"""

from __future__ import annotations

import datetime
import functools
import random
from collections.abc import Callable
from fractions import Fraction

from examples.recipes.numbers import number_text
from examples.recipes.traces import Problem

MAX_PRIME_LIMIT = 60_000
_WORDS = [
    "strawberry",
    "mississippi",
    "bookkeeper",
    "banana",
    "committee",
    "parallel",
    "occurrence",
    "assessment",
    "possession",
    "balloon",
    "coffee",
    "letter",
    "success",
    "address",
    "programming",
    "accommodation",
    "independence",
    "engineering",
    "referee",
    "cucumber",
    "pineapple",
    "tomorrow",
    "grammar",
    "necessary",
    "embarrass",
    "millennium",
    "questionnaire",
    "broccoli",
    "spaghetti",
    "chocolate",
    "abracadabra",
    "hippopotamus",
    "photosynthesis",
    "encyclopedia",
    "onomatopoeia",
    "kangaroo",
    "assassination",
    "bubblegum",
    "peppermint",
    "raspberry",
    "tennessee",
    "cinnamon",
    "zucchini",
    "lollipop",
]
_SUBJECTS = [
    "The old farmer",
    "A small dog",
    "My sister",
    "Every student in the class",
    "The quiet librarian",
    "Two hungry cats",
    "Our neighbour",
    "The tall tree near the river",
]
_PREDICATES = [
    "walked slowly to the market",
    "ate all of the cookies",
    "sang a song about the sea",
    "painted the fence blue last summer",
    "found a coin under the bed",
    "watched the rain for hours",
    "builds tiny boats out of paper",
    "read three books in one week",
]
_MONTHS = [datetime.date(2000, m, 1).strftime("%B") for m in range(1, 13)]


def _problem(family: str, question: str, thought: str, code: str, answer: str) -> Problem:
    return Problem(family, question, ((thought, "python", {"code": code}),), answer)


def _write(n: int, rng: random.Random) -> str:
    return number_text(Fraction(n), commas=n >= 1000 and rng.random() < 0.5)


@functools.cache
def _prime_flags() -> list[bool]:
    flags = [False, False] + [True] * (MAX_PRIME_LIMIT - 1)
    for i in range(2, int(MAX_PRIME_LIMIT**0.5) + 1):
        if flags[i]:
            flags[i * i :: i] = [False] * len(flags[i * i :: i])
    return flags


def primes(rng: random.Random) -> Problem:
    n = rng.choice([rng.randint(2, 99) * 100, rng.randint(100, MAX_PRIME_LIMIT - 1)])
    n = 2100 if n == 2000 else n
    inclusive = rng.random() < 0.25
    wn = _write(n, rng)
    question = (
        rng.choice(
            [f"How many primes are there up to and including {wn}?", f"Count the primes from 2 to {wn}, inclusive."]
        )
        if inclusive
        else rng.choice(
            [
                f"How many primes are smaller than {wn}?",
                f"Count the prime numbers less than {wn}.",
                f"How many prime numbers lie below {wn}?",
                f"What is the number of primes under {wn}?",
            ]
        )
    )
    stop = n + 1 if inclusive else n
    code = rng.choice(
        [
            (
                f"count = 0\nfor k in range(2, {stop}):\n    if all(k % d for d in range(2, int(k ** 0.5) + 1)):\n"
                f"        count += 1\nprint(count)"
            ),
            (
                f"n = {stop}\nsieve = [True] * n\nsieve[0] = sieve[1] = False\nfor i in range(2, int(n ** 0.5) + 1):\n"
                f"    if sieve[i]:\n        for j in range(i * i, n, i):\n            sieve[j] = False\nprint(sum(sieve))"
            ),
        ]
    )
    thought = rng.choice(["I count the primes with a short program.", "I test each number for primality in Python."])
    return _problem("primes", question, thought, code, str(sum(_prime_flags()[:stop])))


def range_sum(rng: random.Random) -> Problem:
    a = 1 if rng.random() < 0.6 else rng.randint(2, 999)
    b = rng.randint(a + 50, 200_000)
    b = 12_346 if (a, b) == (1, 12_345) else b
    wa, wb = _write(a, rng), _write(b, rng)
    question = rng.choice(
        [
            f"Add up all the whole numbers from {wa} to {wb}.",
            f"What do you get if you add every integer between {wa} and {wb}, inclusive?",
            f"What is the total of the integers {wa} through {wb}?",
            f"Find the sum {wa} + {a + 1} + {a + 2} + ... + {wb}.",
        ]
    )
    code = f"print(sum(range({a}, {b} + 1)))"
    return _problem("range_sum", question, "I let Python add the range.", code, str((a + b) * (b - a + 1) // 2))


def _date_text(d: datetime.date, rng: random.Random) -> str:
    month = _MONTHS[d.month - 1]
    return rng.choice([d.isoformat(), f"{month} {d.day}, {d.year}", f"{d.day} {month} {d.year}"])


def _random_date(rng: random.Random, first: int, last: int) -> datetime.date:
    start, end = datetime.date(first, 1, 1).toordinal(), datetime.date(last, 12, 31).toordinal()
    return datetime.date.fromordinal(rng.randint(start, end))


def weekday(rng: random.Random) -> Problem:
    d = _random_date(rng, 1800, 2099)
    d = d + datetime.timedelta(days=1) if d == datetime.date(2000, 1, 1) else d
    text = _date_text(d, rng)
    question = rng.choice(
        [
            f"What day of the week did {text} fall on?",
            f"Which weekday was {text}?",
            f"{text} was which day of the week?",
            f"Tell me the weekday of {text}.",
        ]
    )
    code = f'import datetime\nprint(datetime.date({d.year}, {d.month}, {d.day}).strftime("%A"))'
    answer = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[(d.toordinal() - 1) % 7]
    return _problem("weekday", question, "I ask Python's datetime for the weekday.", code, answer)


def days_between(rng: random.Random) -> Problem:
    d1, d2 = sorted([_random_date(rng, 1950, 2035), _random_date(rng, 1950, 2035)])
    t1, t2 = _date_text(d1, rng), _date_text(d2, rng)
    question = rng.choice(
        [
            f"How many days are there between {t1} and {t2}?",
            f"How many days passed from {t1} to {t2}?",
            f"Count the days from {t1} until {t2}.",
            f"If today is {t1}, how many days is it until {t2}?",
        ]
    )
    code = (
        f"from datetime import date\nprint((date({d2.year}, {d2.month}, {d2.day}) - "
        f"date({d1.year}, {d1.month}, {d1.day})).days)"
    )
    answer = str(d2.toordinal() - d1.toordinal())
    return _problem("days_between", question, "I subtract the two dates in Python.", code, answer)


def count_text(rng: random.Random) -> Problem:
    kind, word = rng.choice(["letter", "letter", "vowels", "words", "digit", "digits"]), rng.choice(_WORDS)
    if kind == "letter":
        ch = rng.choice(word) if rng.random() < 0.85 else rng.choice("aeiouxyz")
        question = rng.choice(
            [
                f'How many times does the letter "{ch}" appear in "{word}"?',
                f"Count the letter {ch} in the word {word}.",
                f'How many {ch}\'s are in "{word}"?',
            ]
        )
        return _problem(
            "count_text",
            question,
            "I count the letter with Python.",
            f'print("{word}".count("{ch}"))',
            str(word.count(ch)),
        )
    if kind == "vowels":
        question = rng.choice([f'How many vowels does the word "{word}" have?', f"Count the vowels in {word}."])
        return _problem(
            "count_text",
            question,
            "I count the vowels a, e, i, o, u with Python.",
            f'print(sum(ch in "aeiou" for ch in "{word}"))',
            str(sum(c in "aeiou" for c in word)),
        )
    if kind == "words":
        sentence = f"{rng.choice(_SUBJECTS)} {rng.choice(_PREDICATES)} and {rng.choice(_PREDICATES)}."
        question = rng.choice(
            [f'How many words are in the sentence "{sentence}"?', f'Count the words in this sentence: "{sentence}"']
        )
        return _problem(
            "count_text",
            question,
            "I split the sentence on spaces and count the parts.",
            f'print(len("{sentence}".split()))',
            str(len(sentence.split(" "))),
        )
    if kind == "digit":
        n, d = rng.randint(10**5, 10**12), str(rng.randint(0, 9))
        question = rng.choice(
            [
                f"How many times does the digit {d} appear in {_write(n, rng)}?",
                f"Count the {d}s among the digits of {_write(n, rng)}.",
            ]
        )
        return _problem(
            "count_text",
            question,
            "I count the digit in the number's text with Python.",
            f'print(str({n}).count("{d}"))',
            str(f"{n}".count(d)),
        )
    a, b = rng.randint(2, 99), rng.randint(10, 400)
    question = rng.choice([f"How many digits does {a}^{b} have?", f"How many digits are in {a} to the power {b}?"])
    return _problem(
        "count_text",
        question,
        "I compute the power in Python and count its digits.",
        f"print(len(str({a} ** {b})))",
        str(len(str(a**b))),
    )


def average(rng: random.Random) -> Problem:
    values = [rng.randint(1, 1000) for _ in range(rng.randint(3, 10))]
    listed = ", ".join(map(str, values[:-1])) + f" and {values[-1]}"
    question = rng.choice(
        [
            f"What is the average of {listed}?",
            f"Find the mean of these numbers: {listed}.",
            f"A shop had {listed} visitors on consecutive days. What was the average per day?",
            f"A student scored {listed} points in her games. What is her mean score?",
        ]
    )
    code = f"nums = [{', '.join(map(str, values))}]\nprint(round(sum(nums) / len(nums), 2))"
    mean = Fraction(sum(values), len(values))
    return _problem(
        "average",
        question,
        "I average the numbers with Python, rounded to 2 decimals.",
        code,
        number_text(Fraction(round(mean * 100), 100)),
    )


PYTHON_FAMILIES: dict[str, Callable[[random.Random], Problem]] = {
    "primes": primes,
    "range_sum": range_sum,
    "weekday": weekday,
    "days_between": days_between,
    "count_text": count_text,
    "average": average,
}
