"""Prompt templates: each task keeps its templates as data and renders them with :func:`fill`."""

from __future__ import annotations

import string


def fill(template: str, **values: object) -> str:
    """Render a ``$name`` template strictly.

    Raises:
        KeyError: a variable of the template was not given.
    """
    try:
        return string.Template(template).substitute(**values)
    except KeyError as err:
        raise KeyError(f"prompt template needs variable {err.args[0]!r}") from err


__all__ = ["fill"]
