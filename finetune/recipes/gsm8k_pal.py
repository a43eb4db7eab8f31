"""GSM8K calculator traces rewritten as one program each (program-aided, "PAL" style).

A ReAct trace calls the calculator once per annotated line and reads every result back. Small
models learn programs more easily than step-by-step text (PAL, PaD, TinyGSM all found so): the
whole solution becomes one ``python`` Action whose lines compute the steps, later lines naming
earlier results instead of copying their numbers, each line under a comment that says what it
computes (the line's Thought without its arithmetic)::

    Thought: Natalia sold 48/2 clips in May.        Thought: I write a program that computes the answer.
    Action: calculator  {"expression": "48/2"}      Action: python
    Observation: 24                           ->    Action Input: {"code": "# Natalia sold clips in May.\\n
    Thought: Natalia sold 48+24 clips in all.         clips = 48 / 2\\n# Natalia sold clips in all.\\n
    Action: calculator  {"expression": "48+24"}       answer = 48 + clips\\nprint(answer)"}
    Observation: 72                                 Observation: 72.0
    Final Answer: 72                                Thought: I know the answer.  Final Answer: 72

Steps after the last one that computes the gold answer are dropped. The observation is what the
``python`` tool prints for the program (the program is plain arithmetic on names: it is run here,
in-process, with no builtins but ``print``; ``tests/test_gsm8k_pal.py`` checks it against the tool).
"""

from __future__ import annotations

import contextlib
import io
import keyword
import logging
import re
from collections import Counter
from fractions import Fraction
from typing import Any

from agent.steps import Action, Step
from finetune.recipes.gsm8k_programs import tokenize
from finetune.recipes.traces import one_line, same_number, trace_record

log = logging.getLogger(__name__)

PROGRAM_THOUGHT = "I write a program that computes the answer."
MAX_CODE_CHARS = 600  # about 200 tokens: the runtime gives a step 320
MAX_COMMENT_CHARS = 80  # long comments taught the model to ramble past the step's token budget
ANSWER = "answer"  # the last line's name: the model never has to recall which name to print
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?|(?<![\w.])\.\d+")
_WORD = re.compile(r"[A-Za-z]+")
_STOP = frozenset(  # words that make poor names
    """a an the of in on at to for from by with and or but so as is are was were be been being it its he she they
    them his her their our your my we you i this that these those each every per which who whom whose what when
    then than there here has have had do does did will would can could should may might must not no if into
    out up down over under about after before more less most least much many some any all both either total
    altogether together also only just very now left still another other same such own one two three four five
    six seven eight nine ten half twice times amount number cost costs""".split()  # noqa: SIM905 - a word list reads better as text
)
_RESERVED = frozenset(keyword.kwlist) | {
    ANSWER,
    "print", "sum", "min", "max", "round", "int", "float", "list", "dict", "set", "len", "range", "abs", "pow",
    "input", "type", "id", "map", "filter", "zip", "all", "any", "str", "hash", "iter", "next", "open", "format",
}  # fmt: skip


def _number(text: str) -> Fraction | None:
    try:
        return Fraction(text.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return None


def _find(thought: str, expr: str) -> re.Match[str] | None:
    """Where the thought writes the expression (any spacing, ``$`` and thousands commas; ``x`` or ``×`` for ``*``)."""
    chars = [r"[*x×]" if ch == "*" else re.escape(ch) for ch in expr.replace(" ", "")]
    return re.search(r"[\s$,]*".join(chars), thought)


def _name(thought: str, expr: str, taken: set[str], index: int) -> str:
    """A variable name: the first content word after the expression in the thought (``48/2 clips`` -> clips)."""
    m = _find(thought, expr)
    words = _WORD.findall(thought[m.end() :]) if m else []
    base = next((w.lower() for w in words if len(w) >= 3 and w.lower() not in _STOP), "")
    base = base[:14] or f"x{index}"
    if base in _RESERVED:
        base += "_"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _comment(thought: str, expr: str, names: dict[Fraction, str]) -> str:
    """The thought without its arithmetic; failing that, with earlier results written as their names."""
    m = _find(thought, expr)
    if m:
        text = thought[: m.start()] + thought[m.end() :]
    else:
        text = _NUMBER.sub(lambda num: names.get(_number(num.group()), num.group()), thought)
    text = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(text.split()))
    text = re.sub(r"\b(is|are|was|were|of|by|to|has|have|makes?|gets?|needs?|for)\s*([.,;:!?])", r"\1\2", text)
    return one_line(text, MAX_COMMENT_CHARS) if _WORD.search(text) else ""


def program_code(question: str, calls: list[tuple[str, str]]) -> str:
    """The program for ``(thought, calculator expression)`` calls in order.

    A number in an expression that equals an earlier result (and is not written in the question)
    becomes that result's name; the last call is named ``answer`` and printed.
    """
    question_numbers = {_number(m.group()) for m in _NUMBER.finditer(question)}
    names: dict[Fraction, str] = {}  # result value -> name of the latest line that computed it (not question numbers)
    exact: dict[str, Fraction] = {}  # name -> its exact value (all ``/`` divisions exact, as the annotations are)
    taken: set[str] = set()
    lines = []
    for i, (thought, expr) in enumerate(calls, 1):
        tokens = tokenize(expr)
        if tokens is None:
            raise ValueError(f"not a calculator expression: {expr!r}")
        parts = [names.get(_number(tok), tok) if tok[0].isdigit() or tok[0] == "." else tok for tok in tokens]
        code_expr = " ".join(parts).replace("( ", "(").replace(" )", ")")
        name = ANSWER if i == len(calls) else _name(thought, expr, taken, i)
        comment = _comment(thought, expr, names)
        if comment:
            lines.append(f"# {comment}")
        lines.append(f"{name} = {code_expr}")
        exact_expr = _NUMBER.sub(lambda num: f"_F('{num.group()}')", code_expr)
        exact[name] = eval(exact_expr, {"__builtins__": {}, "_F": Fraction}, exact)  # our own arithmetic
        if exact[name] not in question_numbers:
            names[exact[name]] = name
    lines.append(f"print({ANSWER})")
    return "\n".join(lines)


def run_program(code: str) -> str:
    """What the ``python`` tool prints for a program of arithmetic lines (run here, no builtins but ``print``)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {"__builtins__": {"print": print}})  # noqa: S102 - code built by program_code, not by a model
    return out.getvalue().strip()


def pal_trace(record: dict[str, Any], why: Counter | None = None) -> dict[str, Any] | None:
    """The program trace of a calculator ReAct trace record, or ``None`` (reason counted) when it cannot be one."""
    why = why if why is not None else Counter()
    gold = _number(str(record.get("gold", record.get("answer", ""))))
    steps = [s for s in record["steps"] if s.get("action")]
    if gold is None or not steps or any(s["action"]["tool"] != "calculator" for s in steps):
        why["not a calculator trace with a numeric answer"] += 1
        return None
    hits = [i for i, s in enumerate(steps) if same_number(s.get("observation") or "", gold)]
    if not hits:
        why["no step computes the answer"] += 1
        return None
    calls = [(s["thought"], s["action"]["args"]["expression"]) for s in steps[: hits[-1] + 1]]
    try:
        code = program_code(record["question"], calls)
    except (ValueError, ZeroDivisionError, SyntaxError, NameError, TypeError):
        why["expression not a program line"] += 1
        return None
    if len(code) > MAX_CODE_CHARS:
        why["program too long"] += 1
        return None
    observation = run_program(code)
    if not same_number(observation, gold):
        why["program disagrees with the answer"] += 1
        return None
    step = Step(thought=PROGRAM_THOUGHT, action=Action("python", {"code": code}), observation=observation)
    answer = str(record.get("gold", record.get("answer")))
    return trace_record(record["question"], [step], answer, answer)


def pal_traces(records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Counter]:
    """Program traces of many calculator traces, and the reasons some were dropped."""
    why: Counter = Counter()
    out = [t for t in (pal_trace(r, why) for r in records) if t is not None]
    log.info("GSM8K programs: %d of %d traces; dropped: %s", len(out), len(records), dict(why))
    return out, why
