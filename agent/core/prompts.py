"""Prompts are data: named templates rendered strictly (a missing variable fails loudly).

The ReAct format the model reads and writes (and ``finetune/`` trains on)::

    Thought: <one line of reasoning>
    Action: <tool name>
    Action Input: <JSON object of arguments>
    Observation: <tool result, written by the runtime>
    ... (repeated)
    Thought: <one line>
    Final Answer: <the answer>
"""

from __future__ import annotations

import string
from typing import Any

from tools.base import Tool

TEMPLATES: dict[str, str] = {
    "react_system": (
        "You solve problems step by step and use tools for every calculation.\n"
        "Tools:\n$tool_list\n\n"
        "Use exactly this format:\n"
        "Thought: one short line of reasoning\n"
        "Action: one tool name from the list\n"
        'Action Input: the arguments as JSON, for example {"$first_arg": "..."}\n'
        "Observation: the tool's result (written for you)\n"
        "... repeat Thought/Action/Action Input/Observation as needed ...\n"
        "Thought: I know the answer.\n"
        "Final Answer: the final answer only, a number or a few words\n\n"
        "Example:\n$example"
    ),
    "react_example": (
        "Question: A box holds 24 pens. How many pens are in 17 boxes?\n"
        "Thought: I multiply the pens per box by the number of boxes.\n"
        "Action: calculator\n"
        'Action Input: {"expression": "24 * 17"}\n'
        "Observation: 408\n"
        "Thought: I know the answer.\n"
        "Final Answer: 408\n\n"
        "Question: How many even numbers are there from 1 to 1,000?\n"
        "Thought: I count them with python.\n"
        "Action: python\n"
        'Action Input: {"code": "print(sum(1 for n in range(1, 1001) if n % 2 == 0))"}\n'
        "Observation: 500\n"
        "Thought: I know the answer.\n"
        "Final Answer: 500"
    ),
    "react_user": "Question: $question",
    "force_final": "Thought: I have used my steps; I give my best answer.\n",
}


class PromptError(KeyError):
    """A template was rendered without one of its variables."""


def render(name: str, **values: Any) -> str:
    """Render a named template; every ``$var`` must be given.

    Raises:
        PromptError: a variable is missing or the template is unknown.
    """
    if name not in TEMPLATES:
        raise PromptError(f"unknown prompt template {name!r}")
    try:
        return string.Template(TEMPLATES[name]).substitute(**values)
    except KeyError as err:
        raise PromptError(f"template {name!r} needs variable {err.args[0]!r}") from err


def tool_list(tools: list[Tool]) -> str:
    """One line per tool: its signature and description."""
    return "\n".join(f"- {t.signature()}: {t.description}" for t in tools)


def render_react_prompt(question: str, tools: list[Tool]) -> list[dict[str, str]]:
    """The chat messages that open a ReAct run (system with tools and format, user with question).

    The assistant's turn that follows is :meth:`agent.core.steps.Trajectory.render`.
    """
    first_arg = next(iter(tools[0].parameters.get("properties", {"input": {}}))) if tools else "input"
    system = render("react_system", tool_list=tool_list(tools), first_arg=first_arg, example=render("react_example"))
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": render("react_user", question=question.strip())},
    ]
