"""Tasks the search knows by name; each is a small implementation of :class:`search.Task`.

Prompts are data: each task keeps its templates in one dict and renders them with
:func:`~search.tasks.template.fill`, which fails loudly on a missing variable.
"""

from __future__ import annotations

from search.contract import Task
from search.tasks.template import fill  # re-exported: `from search.tasks import fill` keeps working


def get_task(name: str, **options: object) -> Task:
    """A task by name: ``game24``, ``gsm8k`` or ``generic``.

    Raises:
        ValueError: an unknown name.
    """
    if name == "game24":
        from search.tasks.game24 import Game24

        return Game24(**options)
    if name == "gsm8k":
        from search.tasks.gsm8k import GSM8K

        return GSM8K(**options)
    if name == "generic":
        from search.tasks.generic import Generic

        return Generic(**options)
    raise ValueError(f"unknown task {name!r}: use 'game24', 'gsm8k', 'generic' or a Task object")


__all__ = ["fill", "get_task"]
