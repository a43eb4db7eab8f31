"""GSM8K word problems: one line of reasoning per step, the last line ``The answer is N.``

:func:`arithmetic_verifier` recomputes equations such as ``12*7=84`` written in the
steps; it is a program, offered as an evaluator and reported apart from model-only runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from search.contract import State
from search.tasks.arith import evaluate
from search.tasks.lines import LineTask

_EXAMPLES = """Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. \
How many clips did Natalia sell altogether in April and May?
Answer:
In May she sold 48/2=24 clips.
Altogether she sold 48+24=72 clips.
The answer is 72.

Question: Weng earns $$12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did \
she earn?
Answer:
She earns 12/60=0.2 dollars per minute.
For 50 minutes she earned 0.2*50=10 dollars.
The answer is 10.
"""

PROPOSE = (
    "Solve the problem. Write one short step per line with its calculation, and end with the line "
    "'The answer is N.'\n\n" + _EXAMPLES + "\nQuestion: $question\nAnswer:\n$steps"
)

VALUE = """Judge whether the steps so far are correct and lead towards the answer (sure/likely/impossible).
Question: Tom has 3 boxes of 4 pens. How many pens does he have?
Steps:
3*4=12 pens.
Judgement:
sure
Question: Tom has 3 boxes of 4 pens. How many pens does he have?
Steps:
3+4=8 pens.
Judgement:
impossible
Question: A shop sells 5 apples a day. How many apples does it sell in a week?
Steps:
A week has 7 days.
Judgement:
likely
Question: $question
Steps:
${steps}Judgement:
"""

VOTE = """Several partial solutions to a math word problem follow. Decide which choice is most promising: \
correct so far and closest to the answer. Conclude in the last line "The best choice is {s}", where s is \
the integer id of the choice.
Question: $question
$choices
"""

_EQUATION = re.compile(
    r"(?:<<)?([0-9.,\s+\-*/×÷()]*[0-9)]\s*[+\-*/×÷]\s*[0-9.,\s+\-*/×÷()]+?)\s*=\s*\$?(-?[0-9][0-9,]*(?:\.[0-9]+)?)"
)


@dataclass
class GSM8K(LineTask):
    """The GSM8K task (see :class:`search.tasks.lines.LineTask` for the options)."""

    name: ClassVar[str] = "gsm8k"
    max_depth: ClassVar[int] = 8
    answer_pattern: ClassVar[re.Pattern] = re.compile(
        r"answer is\s*:?\s*\$?\s*(-?[0-9][0-9,]*(?:\.[0-9]+)?)", re.IGNORECASE
    )
    propose_template: ClassVar[str] = PROPOSE
    value_template: ClassVar[str] = VALUE
    vote_template: ClassVar[str] = VOTE

    def answer(self, state: State) -> str | None:
        found = super().answer(state)
        return found.replace(",", "") if found else None


def check_equations(text: str) -> tuple[int, int]:
    """How many equations ``lhs = n`` in ``text`` were checked, and how many were wrong."""
    checked = wrong = 0
    for lhs, rhs in _EQUATION.findall(text):
        try:
            value = evaluate(lhs.replace(",", ""))
        except ValueError:
            continue
        checked += 1
        wrong += abs(float(value) - float(rhs.replace(",", ""))) > 1e-6 * max(1.0, abs(float(value)))
    return checked, wrong


def arithmetic_verifier(question: str, state: State) -> float:
    """1 if every equation written in the steps is right, 0 if one is wrong, 0.5 if none is checkable."""
    checked, wrong = check_equations("\n".join(state.steps))
    if wrong:
        return 0.0
    return 1.0 if checked else 0.5
