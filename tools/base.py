"""The tool contract: a ``@tool`` decorator, the :class:`Tool` it builds, and a registry.

A tool is a plain function with type hints and a Google-style docstring; the decorator
derives its name, description and JSON argument schema from them.

Example:
    >>> @tool
    ... def shout(text: str) -> str:
    ...     '''Upper-case a text.
    ...
    ...     Args:
    ...         text: what to shout.
    ...     '''
    ...     return text.upper()
    >>> shout(text="hi")
    'HI'
    >>> shout.parameters["required"]
    ['text']
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ToolError(Exception):
    """Raised by a tool for a bad call; the agent shows the message as an Observation."""


class ToolNotFound(LookupError):
    """A tool name or ``module:attr`` spec that names nothing (a user error)."""


_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class Tool:
    """A callable tool with a JSON schema for its arguments.

    Attributes:
        name: what the model writes after ``Action:``.
        description: one paragraph the model reads.
        parameters: JSON schema ``{"type": "object", "properties": ..., "required": [...]}``.
        fn: the function called with the arguments as keywords; returns text.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any] = field(repr=False)

    def __call__(self, **kwargs: Any) -> str:
        """Run the tool; a :class:`ToolError` comes back as ``"Error: ..."``, the text the model would see."""
        try:
            return self.run(**kwargs)
        except ToolError as err:
            return f"Error: {err}"

    def run(self, **kwargs: Any) -> str:
        """Run the tool; a bad call raises :class:`ToolError` (the ReAct loop records it as a tool error)."""
        return str(self.fn(**kwargs))

    def check_args(self, args: dict[str, Any]) -> str | None:
        """Return what is wrong with ``args`` against the schema, or ``None``."""
        props = self.parameters.get("properties", {})
        missing = [k for k in self.parameters.get("required", []) if k not in args]
        if missing:
            return f"missing argument(s) {', '.join(missing)}"
        unknown = [k for k in args if k not in props]
        if unknown:
            return f"unknown argument(s) {', '.join(unknown)}; expected {', '.join(props)}"
        checks = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
        for k, v in args.items():
            want = props[k].get("type")
            if want in checks and not isinstance(v, checks[want]) or (want != "boolean" and isinstance(v, bool)):
                return f"argument {k} must be of type {want}"
        return None

    def signature(self) -> str:
        """``name(arg: type, ...)`` for prompts."""
        props = self.parameters.get("properties", {})
        return f"{self.name}(" + ", ".join(f"{k}: {p.get('type', 'any')}" for k, p in props.items()) + ")"


def _doc_args(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (summary, {arg: description})."""
    summary, _, rest = doc.partition("\nArgs:")
    args: dict[str, str] = {}
    current = None
    for line in rest.splitlines():
        if re.match(r"^\s*(Returns|Raises|Example|Examples):", line):
            break
        m = re.match(r"^\s*(\w+)(?: \([^)]*\))?:\s*(.*)$", line)
        if m:
            current = m.group(1)
            args[current] = m.group(2).strip()
        elif current and line.strip():
            args[current] += " " + line.strip()
    return " ".join(summary.split()), args


def tool(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Turn a typed, documented function into a :class:`Tool` (usable bare or with ``name=``)."""

    def wrap(f: Callable[..., Any]) -> Tool:
        summary, arg_docs = _doc_args(inspect.getdoc(f) or "")
        hints = typing.get_type_hints(f)
        props: dict[str, Any] = {}
        required: list[str] = []
        for pname, p in inspect.signature(f).parameters.items():
            jtype = _JSON_TYPES.get(hints.get(pname, str), "string")
            props[pname] = {"type": jtype, "description": arg_docs.get(pname, "")}
            if p.default is inspect.Parameter.empty:
                required.append(pname)
        schema = {"type": "object", "properties": props, "required": required}
        return Tool(name or f.__name__, summary or f.__name__, schema, f)

    return wrap(fn) if fn is not None else wrap


_BUILTINS = {
    "calculator": "tools.calculator:calculator",
    "python": "tools.python:python",
    "retrieve": "tools.retrieve:retrieve",
}
DEFAULT_TOOLS = ("calculator", "python")


def _load_spec(spec: str) -> list[Tool]:
    module, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:  # like uvicorn: a user's module in the current folder is importable
        sys.path.insert(0, os.getcwd())
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise ToolNotFound(f"cannot load tools from {spec!r}: {err}") from err
    except (Exception, SystemExit) as err:  # the user's module is broken: say so in one line
        why = " ".join(f"{type(err).__name__}: {err}".split())
        raise ToolNotFound(f"cannot load tools from {spec!r}: importing {module} raised {why}") from err
    items = obj if isinstance(obj, (list, tuple)) else [obj]
    if not all(isinstance(t, Tool) for t in items):
        raise ToolNotFound(f"{spec!r} is not a Tool or a list of Tools (decorate functions with @tool)")
    return list(items)


def get_tool(name: str) -> Tool:
    """A built-in tool by name (``calculator``, ``python``, ``retrieve``) or a ``module:attr`` spec.

    Raises:
        ToolNotFound: the name is unknown (the message lists the known ones).
    """
    if ":" in name:
        found = _load_spec(name)
        if len(found) != 1:
            raise ToolNotFound(f"{name!r} names {len(found)} tools, expected one")
        return found[0]
    if name not in _BUILTINS:
        raise ToolNotFound(f"unknown tool {name!r}; built in: {', '.join(_BUILTINS)} (or module:attr)")
    return _load_spec(_BUILTINS[name])[0]


def load_tools(spec: str | list[str] | None = None) -> list[Tool]:
    """Tools from a comma list of names and ``module:attr`` toolsets; ``None`` gives the defaults."""
    names = list(DEFAULT_TOOLS) if spec is None else spec if isinstance(spec, list) else spec.split(",")
    tools: dict[str, Tool] = {}
    for item in (n.strip() for n in names if n.strip()):
        for t in _load_spec(item) if ":" in item else [get_tool(item)]:
            tools[t.name] = t
    return list(tools.values())


def builtin_names() -> list[str]:
    """Names of the built-in tools."""
    return list(_BUILTINS)
