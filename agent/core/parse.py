"""Parse one generated ReAct step into a thought and an action or a final answer.

The parser never raises on model text: what cannot be read becomes a
:class:`~agent.core.steps.StepError` of type ``parse`` that the loop shows the model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agent.core.steps import Action, StepError

# _H is whitespace within a line: a \s* that could cross newlines makes these searches quadratic on
# long blank runs (and let "Action:" take the next line as its tool); groups are stripped by the caller.
_H = r"[^\S\n]*"
_THOUGHT = re.compile(rf"^{_H}Thought:{_H}(.*?)(?=^{_H}(?:Action|Final Answer){_H}:|\Z)", re.DOTALL | re.MULTILINE)
_ACTION = re.compile(rf"^{_H}Action:{_H}(\S.*?){_H}$", re.MULTILINE)
_INPUT = re.compile(rf"^{_H}Action Input:{_H}(.*?)(?=^{_H}Observation:|\Z)", re.DOTALL | re.MULTILINE)
_FINAL = re.compile(rf"^{_H}Final Answer:{_H}(.*?)(?=^{_H}(?:Thought|Observation){_H}:|\Z)", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Parsed:
    """What one step of model text said."""

    thought: str
    action: Action | None = None
    answer: str | None = None
    error: StepError | None = None


def _parse_args(text: str, default_key: str | None) -> dict | None:
    """JSON object arguments; a bare value is accepted for a tool's first argument."""
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None if text.startswith("{") else text
    if isinstance(value, dict):
        return value
    if value is None or default_key is None:
        return None
    return {default_key: value if isinstance(value, str) else json.dumps(value)}


def parse_step(text: str, first_args: dict[str, str] | None = None) -> Parsed:
    """Parse ``text`` (one step, as generated) into a :class:`Parsed`.

    Args:
        text: the model's output for one step.
        first_args: tool name -> its first argument's name, so that ``Action Input: 2+2``
            can mean ``{"expression": "2+2"}``.
    """
    first_args = first_args or {}
    if not isinstance(text, str):
        return Parsed("", error=StepError("parse", "the step is not text"))
    m = _THOUGHT.search(text)
    thought = m.group(1).strip() if m else ""
    action_m, final_m = _ACTION.search(text), _FINAL.search(text)
    if action_m and (not final_m or action_m.start() < final_m.start()):
        tool = action_m.group(1).strip().strip("`'\"").strip()
        if not tool:
            return Parsed(thought, error=StepError("parse", "Name a tool after 'Action:', e.g. 'Action: calculator'."))
        input_m = _INPUT.search(text, action_m.end())
        raw = input_m.group(1) if input_m else ""
        args = _parse_args(raw, first_args.get(tool))
        if args is None:
            return Parsed(
                thought,
                Action(tool, {}),
                error=StepError("parse", 'Action Input must be a JSON object, for example {"expression": "2 + 2"}.'),
            )
        return Parsed(thought, Action(tool, args))
    if final_m and final_m.group(1).strip():
        return Parsed(thought, answer=final_m.group(1).strip().splitlines()[0].strip())
    if not thought:
        return Parsed(
            "", error=StepError("parse", "Start with 'Thought:' then give an 'Action:' or a 'Final Answer:'.")
        )
    return Parsed(
        thought,
        error=StepError("parse", "After the Thought, write 'Action:' with 'Action Input:', or 'Final Answer:'."),
    )
