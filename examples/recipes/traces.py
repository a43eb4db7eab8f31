"""Shared pieces of the recipes: run the real tools for observations, build trace records, write JSONL.

A ReAct record is a :class:`agent.core.steps.Trajectory` dict, as ``agent solve --trace`` writes it,
plus a ``gold`` field; the trainer (:mod:`finetune.formats`) keeps it because ``stats.correct``
is true. Prompt-to-completion records are ``{"messages": [...]}``.
"""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from agent.core.steps import Action, Step, Trajectory
from tools.base import Tool, ToolError, ToolNotFound, get_tool

log = logging.getLogger(__name__)

TOOLS = ["calculator", "python"]  # the runtime's default tools: the trained prompt is the one `agent solve` shows
FINAL_THOUGHT = "I know the answer."
MAX_THOUGHT_CHARS = 200  # the runtime's grammar allows 240


@dataclass(frozen=True)
class Problem:
    """A synthetic question, the tool calls that solve it (thought, tool, args) and its answer known in advance."""

    family: str
    question: str
    calls: tuple[tuple[str, str, dict[str, Any]], ...]
    answer: str


class RecipeError(RuntimeError):
    """A tool did not give the observation a recipe expected (a bug in the recipe, not in the data)."""


@functools.cache
def _tool(name: str) -> Tool | None:
    try:
        return get_tool(name)
    except ToolNotFound:
        return None


def run_tool(name: str, args: dict[str, Any]) -> str:
    """The observation the runtime would show for this call (the tool's output, stripped).

    The ``python`` tool is used when installed; otherwise the code runs in a plain subprocess.

    Raises:
        RecipeError: the tool refused the call or the code failed.
    """
    tool = _tool(name)
    if tool is None and name == "python":
        return _run_subprocess(args["code"])
    if tool is None:
        raise RecipeError(f"tool {name!r} is not available")
    try:
        return tool(**args).strip()
    except ToolError as err:
        raise RecipeError(f"{name} refused {args}: {err}") from err


def _run_subprocess(code: str) -> str:
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RecipeError(f"python code failed: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def _key(tool: str, args: dict[str, Any]) -> str:
    return tool + json.dumps(args, sort_keys=True)


def run_tools(calls: list[tuple[str, dict[str, Any]]], workers: int = 4) -> dict[str, str]:
    """Observations of many calls at once (the python sandbox starts a process per call: run them in threads)."""
    unique = {_key(t, a): (t, a) for t, a in calls}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outputs = pool.map(lambda ta: run_tool(*ta), unique.values())
        return dict(zip(unique, outputs))


def tool_step(thought: str, tool: str, args: dict[str, Any], observations: dict[str, str] | None = None) -> Step:
    """A step that calls ``tool`` and records its real observation (from ``observations`` when run before)."""
    seen = (observations or {}).get(_key(tool, args))
    observation = seen if seen is not None else run_tool(tool, args)
    return Step(thought=one_line(thought), action=Action(tool, dict(args)), observation=observation)


def one_line(text: str, limit: int = MAX_THOUGHT_CHARS) -> str:
    """``text`` on one line and at most ``limit`` characters: leading sentences go first, then words."""
    text = " ".join(text.split())
    while len(text) > limit and ". " in text:
        text = text.split(". ", 1)[1]
    if len(text) > limit:
        text = text[: limit - 3].rsplit(" ", 1)[0] + "..."
    return text


def trace_record(question: str, steps: list[Step], answer: str, gold: str | None = None) -> dict[str, Any]:
    """A Trajectory dict ending with ``Thought: I know the answer.`` / ``Final Answer: answer``."""
    final = Step(thought=FINAL_THOUGHT, answer=answer)
    traj = Trajectory(
        question=question,
        steps=[*steps, final],
        answer=answer,
        model="synthetic",
        tools=list(TOOLS),
        stats={"correct": True},
    )
    return {**traj.to_dict(), "gold": answer if gold is None else gold}


def raw_record(prompt: str, completion: str) -> dict[str, Any]:
    """A raw prompt-to-completion record (no chat template): the loss falls on the completion."""
    return {"prompt": prompt, "completion": completion}


def same_number(observation: str, value: Fraction) -> bool:
    """Whether a calculator observation shows ``value`` (non-integers are shown to 10 significant digits)."""
    try:
        seen = Fraction(observation.replace(",", ""))
    except (ValueError, ZeroDivisionError):
        return False
    return abs(seen - value) <= Fraction(1, 10**6) * max(1, abs(value))


_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}  # str.splitlines() splits on these


def jsonl_line(record: dict[str, Any]) -> str:
    """One JSON line (UTF-8 text, but Unicode line separators escaped so every reader sees one line)."""
    text = json.dumps(record, ensure_ascii=False)
    for raw, escaped in _LINE_BREAKS.items():
        text = text.replace(raw, escaped)
    return text + "\n"


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records one per line; returns how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(jsonl_line(rec))
            n += 1
    return n
