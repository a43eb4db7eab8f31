"""Re-instantiated GSM8K (family 2): each solution is a small program; new input numbers give new problems.

An operand of an annotation is an *input* when it is written in the question (``1,000``, ``$5``,
``50%``), a *step* when it equals an earlier annotation's result, else a *constant* (``2`` for
"half", ``60`` minutes). Inputs are re-sampled (same digits and trailing zeros, integers stay
integers, percentages stay at most 100), every step is recomputed in order, and an instance is
kept only when every result stays "nice" (non-negative, integer where it was, else at most two
decimals). A problem is skipped whenever the rewrite could be ambiguous: an input written twice
in the question, a value with two roles, a number in the solution text the program cannot explain.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from examples.recipes import numbers as nums
from examples.recipes.gsm8k_programs import Solution, tokenize
from examples.recipes.numbers import number_text
from examples.recipes.traces import same_number, tool_step, trace_record

log = logging.getLogger(__name__)

TRIES_PER_INSTANCE = 10  # random draws allowed per wanted instance before giving up on a problem
COMMON_CONSTANTS = {Fraction(x) for x in (1, 2, 3, 4, 7, 10, 12, 24, 30, 31, 52, 60, 100, 365, 1000)} | {
    Fraction(1, 100),
    Fraction(1, 10),
    Fraction(1, 4),
    Fraction(1, 2),
    Fraction(3, 4),
}  # units, halves, percent
Role = tuple  # ("in", input index, scale) | ("step", index) | ("fixed",)


@dataclass(frozen=True)
class Operand:
    """A number in an expression: an input (times ``scale``), an earlier step's result, or a constant."""

    kind: str  # "in" | "step" | "const"
    index: int = 0
    value: Fraction = Fraction(1)  # the constant, or the scale of an input (1/100 for '50%' written .5)


class Skip(ValueError):
    """This problem cannot be re-instantiated safely; the message says why."""


@dataclass
class Program:
    """A solution's computations over named inputs, able to recompute them for new input values."""

    solution: Solution
    inputs: list[nums.QNumber] = field(default_factory=list)
    exprs: list[list[str | Operand]] = field(default_factory=list)
    roles: dict[Fraction, Role] = field(default_factory=dict)

    def run(self, values: tuple[Fraction, ...]) -> list[Fraction]:
        """Every step's result for these input values (raises ZeroDivisionError/ValueError)."""
        results: list[Fraction] = []
        for tokens in self.exprs:
            results.append(nums.evaluate([self._value(t, values, results) for t in tokens]))
        return results

    def _value(self, tok: str | Operand, values: tuple[Fraction, ...], results: list[Fraction]) -> str | Fraction:
        if isinstance(tok, str):
            return tok
        if tok.kind == "in":
            return values[tok.index] * tok.value
        return results[tok.index] if tok.kind == "step" else tok.value

    def expression(self, step: int, values: tuple[Fraction, ...], results: list[Fraction]) -> str:
        """The expression of ``step`` written with these values."""
        parts = [self._value(t, values, results) for t in self.exprs[step]]
        return "".join(p if isinstance(p, str) else number_text(p) for p in parts)

    def rewrite(self, text: str, values: tuple[Fraction, ...], results: list[Fraction]) -> str:
        """A thought with every input and step number replaced by its new value, written like the old one."""

        def new(m: re.Match[str]) -> str:
            role = self.roles.get(nums.parse(m.group()))
            if role is None or role[0] == "fixed":
                return m.group()
            if role[0] == "step":
                value, decimals = results[role[1]], None
            else:
                value, decimals = values[role[1]] * role[2], self.inputs[role[1]].decimals if role[2] == 1 else None
            if decimals is None and "." in m.group() and value.denominator != 1:
                decimals = max(len(m.group().split(".")[1]), nums.decimals_needed(value))
            return number_text(value, decimals, commas="," in m.group() or (value >= 10_000 and self._commas()))

        return nums.NUMBER.sub(new, text)

    def _commas(self) -> bool:
        return any(q.commas for q in self.inputs)


def _classify(
    value: Fraction, qnums: list[nums.QNumber], words: set[Fraction], results: list[Fraction], prog: Program
) -> Operand:
    """The role of one operand (see the module docstring)."""
    in_question = [q for q in qnums if q.value == value or (q.percent and q.value / 100 == value)]
    earlier = [i for i, r in enumerate(results) if r == value]
    if (in_question or earlier) and value in words:
        raise Skip("a number is also written as a word")
    if in_question and earlier:
        raise Skip("an operand is both a question number and an earlier result")
    if earlier:
        if len(earlier) > 1:
            raise Skip("two earlier results have the same value")
        return Operand("step", earlier[0])
    if not in_question:
        if value not in words and value not in COMMON_CONSTANTS:
            raise Skip("a constant the question does not explain (worked out in the text?)")
        return Operand("const", value=value)
    if not any(q.changeable for q in in_question):  # 1, a year, 100%: written in the question, kept as it is
        return Operand("const", value=value)
    if len(in_question) > 1:
        raise Skip("an input number is written more than once in the question")
    q = in_question[0]
    if q not in prog.inputs:
        prog.inputs.append(q)
    return Operand("in", prog.inputs.index(q), Fraction(1) if q.value == value else Fraction(1, 100))


def _add_role(roles: dict[Fraction, Role], value: Fraction, role: Role) -> None:
    if roles.setdefault(value, role) != role:
        raise Skip("a value has two roles (say an input and a result, read alike in the text)")


def _is_const(tok: str | Operand, value: Fraction) -> bool:
    return isinstance(tok, Operand) and tok.kind == "const" and tok.value == value


def _check_percentages(prog: Program) -> None:
    """A percentage ``p`` must be used as ``p/100``, ``p*0.01`` or ``100-p`` (``x/10`` for 10% breaks when 10
    changes)."""
    for tokens in prog.exprs:
        for i, t in enumerate(tokens):
            if not (isinstance(t, Operand) and t.kind == "in" and t.value == 1 and prog.inputs[t.index].percent):
                continue
            after, before = tokens[i + 1 : i + 3], tokens[max(0, i - 2) : i]
            if not (
                (len(after) == 2 and after[0] == "/" and _is_const(after[1], Fraction(100)))
                or (len(after) == 2 and after[0] == "*" and _is_const(after[1], Fraction(1, 100)))
                or (len(before) == 2 and before[1] == "-" and _is_const(before[0], Fraction(100)))
            ):
                raise Skip("a percentage is used other than as p/100")


def _assign_roles(prog: Program, qnums: list[nums.QNumber], results: list[Fraction]) -> None:
    """What each value written in the question or the solution stands for (raises Skip on two roles)."""
    for i, q in enumerate(prog.inputs):
        _add_role(prog.roles, q.value, ("in", i, Fraction(1)))
    operands = [t for tokens in prog.exprs for t in tokens if isinstance(t, Operand)]
    for t in operands:
        if t.kind == "in" and t.value != 1:
            _add_role(prog.roles, prog.inputs[t.index].value * t.value, ("in", t.index, t.value))
    for j, r in enumerate(results):
        _add_role(prog.roles, r, ("step", j))
    fixed = [q.value for q in qnums if q not in prog.inputs] + [t.value for t in operands if t.kind == "const"]
    for value in fixed:
        _add_role(prog.roles, value, ("fixed",))


def _check_text(prog: Program) -> None:
    """Every number of the solution text must be one the program knows, written as a token of its own."""
    for calc in prog.solution.calcs:
        for m in nums.NUMBER.finditer(calc.thought):
            role = prog.roles.get(nums.parse(m.group()))
            if role is None:
                raise Skip("the solution text uses a number the program does not compute")
            if role[0] != "fixed" and nums.inside_word(calc.thought, m.start(), m.end()):
                raise Skip("a changing number is part of a word in the solution text")


def build_program(sol: Solution) -> Program:
    """The program behind a solution.

    Raises:
        Skip: the problem cannot be re-instantiated unambiguously (the message says why).
    """
    prog = Program(sol)
    qnums = nums.question_numbers(sol.question)
    words = nums.word_values(" ".join([sol.question, *(c.thought for c in sol.calcs)]))
    results: list[Fraction] = []
    for calc in sol.calcs:
        tokens = tokenize(calc.expr) or []
        prog.exprs.append(
            [t if t in "+-*/()" else _classify(nums.parse(t), qnums, words, results, prog) for t in tokens]
        )
        results.append(calc.result)
    if not prog.inputs:
        raise Skip("no input number of the question is used")
    _check_percentages(prog)
    _assign_roles(prog, qnums, results)
    _check_text(prog)
    try:
        same = prog.run(tuple(q.value for q in prog.inputs)) == results
    except (ValueError, ZeroDivisionError) as err:
        raise Skip("an expression cannot be evaluated") from err
    if not same:
        raise Skip("recomputing the original inputs does not give the original results")
    return prog


def nice(new: Fraction, old: Fraction) -> bool:
    """Same sign as before; integer where the original was, else at most two decimals."""
    if (old >= 0 and new < 0) or (old > 0 and new == 0) or abs(new) > 10**9:
        return False
    return new.denominator == 1 if old.denominator == 1 else (new * 100).denominator == 1


def instance(prog: Program, values: tuple[Fraction, ...]) -> dict[str, Any] | None:
    """The ReAct trace of the problem with new input values, or ``None`` when a result is not nice."""
    try:
        results = prog.run(values)
    except (ZeroDivisionError, ValueError):
        return None
    if not all(nice(n, c.result) for n, c in zip(results, prog.solution.calcs)):
        return None
    steps = []
    for j, calc in enumerate(prog.solution.calcs):
        step = tool_step(
            prog.rewrite(calc.thought, values, results),
            "calculator",
            {"expression": prog.expression(j, values, results)},
        )
        if not same_number(step.observation, results[j]):
            return None
        steps.append(step)
    question = prog.solution.question
    for i, q in sorted(enumerate(prog.inputs), key=lambda iq: -iq[1].start):
        question = question[: q.start] + number_text(values[i], q.decimals, q.commas) + question[q.end :]
    answer = number_text(results[prog.solution.answer_step])
    return trace_record(question, steps, answer)


def reinstantiate(sol: Solution, k: int, rng: random.Random) -> list[dict[str, Any]]:
    """Up to ``k`` new instances of one solved problem (raises :class:`Skip` when it has none to give)."""
    prog = build_program(sol)
    seen = {tuple(q.value for q in prog.inputs)}
    out: list[dict[str, Any]] = []
    for _ in range(k * TRIES_PER_INSTANCE):
        if len(out) >= k:
            break
        values = tuple(nums.resample(q, rng) for q in prog.inputs)
        if values in seen or len(set(values)) < len(values):  # equal new inputs would read ambiguously
            continue
        seen.add(values)
        rec = instance(prog, values)
        if rec is not None:
            out.append(rec)
    return out


def gsm8k_reinstantiated(solutions: list[Solution], k: int, seed: int) -> tuple[list[dict[str, Any]], Counter]:
    """Family 2: up to ``k`` instances per solution; the counter says why problems gave none."""
    records: list[dict[str, Any]] = []
    why: Counter = Counter()
    for n, sol in enumerate(solutions):
        try:
            got = reinstantiate(sol, k, random.Random(seed * 1_000_003 + n))
        except Skip as err:
            why[str(err)] += 1
            continue
        why["problems with instances" if got else "no nice instance found"] += 1
        records.extend(got)
    log.info("re-instantiated GSM8K: %d instances from %d problems; %s", len(records), len(solutions), dict(why))
    return records, why
