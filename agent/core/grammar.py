"""GBNF grammars for ReAct steps, built from the tools' argument schemas.

With the grammar, llama.cpp can only emit a well-formed ``Thought:`` line followed by either
an ``Action:`` naming a registered tool with a JSON ``Action Input`` that fits its schema,
or a ``Final Answer:`` line.
"""

from __future__ import annotations

import re

from tools.base import Tool

MAX_THOUGHT_CHARS = 240  # bounded so a rambling thought cannot eat the whole token budget
MAX_ANSWER_CHARS = 120

_COMMON = r"""
ws ::= [ ]?
string ::= "\"" char* "\""
char ::= [^"\\\n] | "\\" ["\\/bfnrt]
integer ::= "-"? [0-9] [0-9]*
number ::= "-"? [0-9] [0-9]* ("." [0-9]+)?
boolean ::= "true" | "false"
"""


def _rule_name(tool_name: str) -> str:
    return "tool-" + re.sub(r"[^a-zA-Z0-9]", "-", tool_name)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _args_rule(tool: Tool) -> str:
    """A JSON object with the tool's properties, required ones first, in schema order."""
    props = tool.parameters.get("properties", {})
    required = [k for k in props if k in tool.parameters.get("required", [])]
    if not required and props:
        required = [next(iter(props))]  # ask for at least one argument
    types = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}
    parts = []
    for i, key in enumerate(required):
        sep = "" if i == 0 else ' "," ws '
        parts.append(f'{sep}{_quote(chr(34) + key + chr(34))} ws ":" ws {types.get(props[key].get("type"), "string")}')
    body = " ".join(parts)
    return f'"{{" ws {body} ws "}}"' if body else '"{}"'


def react_grammar(tools: list[Tool], final_only: bool = False) -> str:
    """The GBNF grammar for one ReAct step.

    Args:
        tools: the registered tools the action may name.
        final_only: allow only a final answer (used on the last allowed step).
    """
    lines = [
        'root ::= "Thought: " thought "\\n" ' + ("final" if final_only or not tools else "(action | final)"),
        f"thought ::= [^\\n]{{1,{MAX_THOUGHT_CHARS}}}",
        f'final ::= "Final Answer: " [^\\n ] [^\\n]{{0,{MAX_ANSWER_CHARS}}} "\\n"?',  # may end at end-of-turn
    ]
    if tools and not final_only:
        lines.append("action ::= " + " | ".join(_rule_name(t.name) for t in tools))
        for t in tools:
            lines.append(
                f"{_rule_name(t.name)} ::= {_quote('Action: ' + t.name + chr(10) + 'Action Input: ')} "
                f'{_args_rule(t)} "\\n"'
            )
    return "\n".join(lines) + _COMMON
