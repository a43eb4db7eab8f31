"""Tools the agent calls. Contract: :mod:`tools.base` (``@tool``, :class:`Tool`, the registry).

Built in: ``calculator`` (exact arithmetic, AST whitelist), ``python`` (sandboxed child
process), ``retrieve`` (ranked passages from a local folder).

Example:
    >>> from tools import get_tool
    >>> get_tool("calculator")(expression="17*23")
    '391'
"""

from tools.base import DEFAULT_TOOLS, Tool, ToolError, ToolNotFound, builtin_names, get_tool, load_tools, tool

__all__ = ["DEFAULT_TOOLS", "Tool", "ToolError", "ToolNotFound", "builtin_names", "get_tool", "load_tools", "tool"]
