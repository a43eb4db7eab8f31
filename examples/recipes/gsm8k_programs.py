"""GSM8K solutions as calculator programs, and as ReAct traces (family 1).

Each solution line with a ``<<expr=result>>`` annotation becomes one step: the line's text is the
Thought (without the result, which the tool gives), the expression is the calculator Action, and
the calculator's own output is the Observation::

    Natalia sold 48/2 = <<48/2=24>>24 clips in May.   ->   Thought: Natalia sold 48/2 clips in May.
                                                          Action: calculator
                                                          Action Input: {"expression": "48/2"}
                                                          Observation: 24

A line without annotation is folded into the next Thought.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from examples.recipes.traces import one_line, same_number, tool_step, trace_record

log = logging.getLogger(__name__)

DEV_ROWS = 500  # the last rows of train.jsonl: the project's development split, never trained on
ANNOTATION = re.compile(r"<<([^=<>]+)=([^<>]*)>>")
_WRITTEN_RESULT = re.compile(r"\s*\$?\s*-?(?:\d[\d,]*)?(?:\.\d+)?")  # the result as the line repeats it
_EQUALS_BEFORE = re.compile(r"\s*=\s*\$?\s*$")
_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+|[-+*/()])")


@dataclass(frozen=True)
class Calc:
    """One annotated computation: the Thought before it, its expression and its annotated result."""

    thought: str
    expr: str
    result: Fraction


@dataclass(frozen=True)
class Solution:
    """A GSM8K row read as a program: its question, its computations and the gold answer."""

    question: str
    calcs: tuple[Calc, ...]
    gold: str  # the ``#### N`` answer without thousands commas
    answer_step: int  # the last computation whose result is the gold answer


def load_gsm8k(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a GSM8K JSONL file (``question``, ``answer``)."""
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def split_dev(rows: list[dict[str, Any]], n_dev: int = DEV_ROWS) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training rows, development rows): the last ``n_dev`` rows are the development split."""
    if len(rows) <= n_dev:
        raise ValueError(f"GSM8K file has {len(rows)} rows, fewer than the {n_dev} held out for development")
    return rows[:-n_dev], rows[-n_dev:]


def normalise_expr(expr: str) -> str:
    """``4 x 3`` / ``4 × 3`` -> ``4 * 3``; the calculator reads the rest as written."""
    return re.sub(r"(?<=[\d.)\s])[x×](?=[\s\d.(])", "*", expr.strip())


def tokenize(expr: str) -> list[str] | None:
    """Numbers and ``+ - * / ( )`` of an expression, or ``None`` when it holds anything else."""
    tokens, pos = [], 0
    while pos < len(expr.rstrip()):
        m = _TOKEN.match(expr, pos)
        if not m:
            return None
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


def _step_thought(line: str, m: re.Match[str], expr: str) -> str:
    """The line's text without the annotation and without the result written after it."""
    before, after = line[: m.start()], line[m.end() :]
    after = after[_WRITTEN_RESULT.match(after).end() :]
    if _EQUALS_BEFORE.search(before):  # "48/2 = <<48/2=24>>24": the expression is already written
        before = _EQUALS_BEFORE.sub("", before)
    else:  # "She has <<5*3=15>>15 apples": write the expression where the result was
        before = before.rstrip("$ ") + " " + expr
    after_words, before_words = after.split(), before.split()
    if after_words and _stem(after_words[0]) in {_stem(w) for b in before_words[-8:] for w in b.split("/")}:
        after_words = after_words[1:]  # "30 books + 20 books = <<..>>50 books": one "books" is enough
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join([*before_words, *after_words]))


def _stem(word: str) -> str:
    return word.strip(".,;:!?()$/").lower().removesuffix("s")


def parse_solution(row: dict[str, Any], why: Counter | None = None) -> Solution | None:
    """A row as a :class:`Solution`, or ``None`` (reason counted in ``why``) when it cannot be one."""
    why = why if why is not None else Counter()
    text, sep, gold = row["answer"].rpartition("####")
    gold = gold.strip().replace(",", "")
    calcs, pending = [], ""
    for line in text.splitlines():
        m = ANNOTATION.search(line)
        if not m:
            pending += " " + line
            continue
        expr = normalise_expr(m.group(1))
        tokens = tokenize(expr)
        if tokens is None or not any(t in "+-*/" for t in tokens[1:]):
            why["bare or unreadable annotation"] += 1
            return None
        try:
            result = Fraction(m.group(2).strip())
        except (ValueError, ZeroDivisionError):
            why["unreadable annotated result"] += 1
            return None
        thought = one_line(f"{pending} {_step_thought(line, m, expr)}") or f"I compute {expr}."
        calcs.append(Calc(thought, expr, result))
        pending = ""
    try:
        gold_value = Fraction(gold)
    except (ValueError, ZeroDivisionError):
        why["no numeric gold answer"] += 1
        return None
    hits = [i for i, c in enumerate(calcs) if c.result == gold_value]
    if not sep or not hits:
        why["gold answer not computed by an annotation"] += 1
        return None
    return Solution(row["question"].strip(), tuple(calcs), gold, hits[-1])


def react_trace(sol: Solution, why: Counter | None = None) -> dict[str, Any] | None:
    """The ReAct trace of a solution; ``None`` when the calculator disagrees with an annotation."""
    steps = []
    for calc in sol.calcs:
        step = tool_step(calc.thought, "calculator", {"expression": calc.expr})
        if not same_number(step.observation, calc.result):
            if why is not None:
                why["calculator disagrees with annotation"] += 1
            return None
        steps.append(step)
    return trace_record(sol.question, steps, sol.gold)


def gsm8k_react(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Solution], Counter]:
    """Family 1: (traces, the solutions they came from, reasons rows were dropped)."""
    why: Counter = Counter()
    traces, solutions = [], []
    for row in rows:
        sol = parse_solution(row, why)
        rec = react_trace(sol, why) if sol else None
        if rec is not None:
            traces.append(rec)
            solutions.append(sol)
    log.info("GSM8K ReAct: %d traces from %d rows; dropped: %s", len(traces), len(rows), dict(why))
    return traces, solutions, why
