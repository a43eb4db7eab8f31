"""Errors the CLI reports as one clear line (no traceback): the user has something to fix."""

from __future__ import annotations

from agent.core.model import ModelError
from agent.core.prompts import PromptError
from tools.base import ToolNotFound


class UserError(Exception):
    """A mistake in what the user asked for (bad file, bad option value)."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    ModelError,
    ToolNotFound,
    PromptError,
    ValueError,
    FileNotFoundError,
    PermissionError,
)
